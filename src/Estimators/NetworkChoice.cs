// Resolves the network and recipe a training run uses from the options and the data, with errors that say what differs.
using UViT.MLNet.Core.Networks;
using UViT.MLNet.Core.Training;

namespace UViT.MLNet.Estimators;

internal static class NetworkChoice
{
    /// <summary>(network config, recipe, null class) for data of <paramref name="channels"/> x <paramref name="size"/>^2 with <paramref name="classes"/> classes.</summary>
    public static (UViTConfig Config, TrainingRecipe Recipe, long? NullClass) Resolve(UViTTrainerOptions options, int channels, int size, int classes)
    {
        var recipe = options.Recipe ?? (options.Preset is not null ? TrainingRecipe.ForPreset(options.Preset) : UViTTrainerOptions.ShortRunRecipe);
        if (classes == 0 && recipe.ConditionDropProbability > 0) recipe = recipe with { ConditionDropProbability = 0 };
        bool guidance = classes > 0 && recipe.ConditionDropProbability > 0;
        int wantedClasses = classes == 0 ? -1 : guidance ? classes + 1 : classes;

        var config = options.Network ?? (options.Preset is not null ? UViTPresets.Get(options.Preset).Config : DefaultFor(channels, size, wantedClasses));
        if (options.Network is null && options.Preset is null) return (config, recipe.Validate(), guidance ? classes : null);

        string source = options.Network is not null ? "Network" : $"preset '{options.Preset}'";
        if (config.ImageSize != size || config.InChannels != channels)
            throw new ArgumentException($"The {source} expects {config.InChannels}x{config.ImageSize}x{config.ImageSize} inputs but column '{options.ImageColumnName}' holds {channels}x{size}x{size}.");
        if (config.Conditioning == UViTConditioning.TextContext)
            throw new ArgumentException($"The {source} is text-conditioned; this trainer takes class labels or none.");
        int networkClasses = config.Conditioning == UViTConditioning.ClassLabel ? config.NumClasses : -1;
        if (networkClasses != wantedClasses)
        {
            string data = classes == 0 ? "no label column" : $"{classes} classes in '{options.LabelColumnName}'" + (guidance ? " plus the null class for guidance" : "");
            throw new ArgumentException($"The {source} has {(networkClasses < 0 ? "no label input" : networkClasses + " label values")} but the data needs {(wantedClasses < 0 ? "none" : wantedClasses.ToString())} ({data}).");
        }
        return (config, recipe.Validate(), guidance ? classes : null);
    }

    /// <summary>
    /// The default network: width 128, depth 6, 4 heads, a patch size giving 7x7 to 8x8 tokens (49-64 patches keep a CPU step
    /// fast), with the final 3x3 conv. Sized for quick runs on small images such as MNIST; use a preset for the paper's models.
    /// </summary>
    public static UViTConfig DefaultFor(int channels, int size, int numClasses)
    {
        int patch = new[] { 4, 2, 7, 8, 1 }.First(p => size % p == 0 && size / p <= 16);
        return new UViTConfig
        {
            ImageSize = size, PatchSize = patch, InChannels = channels, EmbedDim = 128, Depth = 6, NumHeads = 4,
            NumClasses = numClasses, Conv = true,
        }.Validate();
    }
}
