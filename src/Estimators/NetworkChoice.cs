// Resolves the network and recipe a training run uses from the options and the data, with errors that say what differs.
using UViT.MLNet.Core.Networks;
using UViT.MLNet.Core.Training;

namespace UViT.MLNet.Estimators;

internal static class NetworkChoice
{
    /// <summary>(network config, recipe, null class) for data of <paramref name="channels"/> x <paramref name="size"/>^2 with
    /// <paramref name="classes"/> classes, or text contexts of [<paramref name="contextTokens"/>, <paramref name="contextWidth"/>].</summary>
    /// <param name="hasEmptyContext">Whether the empty prompt's context is known (text guidance dropout needs it).</param>
    public static (UViTConfig Config, TrainingRecipe Recipe, long? NullClass) Resolve(UViTTrainerOptions options, int channels, int size, int classes,
                                                                                   int contextTokens = 0, int contextWidth = 0, bool hasEmptyContext = false)
    {
        bool text = contextTokens > 0;
        var recipe = options.Recipe ?? (options.Preset is not null ? TrainingRecipe.ForPreset(options.Preset) : UViTTrainerOptions.ShortRunRecipe);
        if (classes == 0 && !text && recipe.ConditionDropProbability > 0) recipe = recipe with { ConditionDropProbability = 0 };
        if (text && recipe.ConditionDropProbability > 0 && !hasEmptyContext)
            throw new ArgumentException($"Guidance dropout (p = {recipe.ConditionDropProbability}) needs the empty prompt's context, but context column '{options.ContextColumnName}' " +
                                        "carries none: produce it with EncodeText, set UViTTrainerOptions.EmptyContext, or set the recipe's ConditionDropProbability to 0.");
        bool guidance = classes > 0 && recipe.ConditionDropProbability > 0;
        int wantedClasses = classes == 0 ? -1 : guidance ? classes + 1 : classes;

        var config = options.Network ?? (options.Preset is not null ? UViTPresets.Get(options.Preset).Config : DefaultFor(channels, size, wantedClasses));
        if (options.Network is null && options.Preset is null)
        {
            if (text) config = config with { ClipDim = contextWidth, NumClipTokens = contextTokens };
            return (config.Validate(), recipe.Validate(), guidance ? classes : null);
        }

        string source = options.Network is not null ? "Network" : $"preset '{options.Preset}'";
        if (config.ImageSize != size || config.InChannels != channels)
            throw new ArgumentException($"The {source} expects {config.InChannels}x{config.ImageSize}x{config.ImageSize} inputs but column '{options.ImageColumnName}' holds {channels}x{size}x{size}.");
        if (text)
        {
            if (config.Conditioning != UViTConditioning.TextContext)
                throw new ArgumentException($"The {source} is not text-conditioned, but the data has context column '{options.ContextColumnName}'.");
            if (config.NumClipTokens != contextTokens || config.ClipDim != contextWidth)
                throw new ArgumentException($"The {source} takes [{config.NumClipTokens}, {config.ClipDim}] contexts but column '{options.ContextColumnName}' holds [{contextTokens}, {contextWidth}].");
            return (config, recipe.Validate(), null);
        }
        if (config.Conditioning == UViTConditioning.TextContext)
            throw new ArgumentException($"The {source} is text-conditioned; the data has no context column '{options.ContextColumnName}'.");
        int networkClasses = config.Conditioning == UViTConditioning.ClassLabel ? config.NumClasses : -1;
        if (networkClasses != wantedClasses)
        {
            string data = classes == 0 ? "no label column" : $"{classes} classes in '{options.LabelColumnName}'" + (guidance ? " plus the null class for guidance" : "");
            throw new ArgumentException($"The {source} has {(networkClasses < 0 ? "no label input" : networkClasses + " label values")} but the data needs {(wantedClasses < 0 ? "none" : wantedClasses.ToString())} ({data}).");
        }
        return (config, recipe.Validate(), guidance ? classes : null);
    }

    /// <summary>
    /// The default network: width 128, depth 6, 4 heads, a final 3x3 conv, and large patches - 4x4 tokens for images up to
    /// 32 pixels (patch 7 for MNIST's 28), 8x8 tokens above - because on a CPU the token count decides the step time and a
    /// minutes-long run needs thousands of steps (measured on MNIST: patch 7 reaches 57% recognisable digits in 9 minutes
    /// where patch 4 reaches 16%). Use a preset or an explicit network for the paper's models.
    /// </summary>
    public static UViTConfig DefaultFor(int channels, int size, int numClasses)
    {
        int side = size <= 32 ? 4 : 8;
        int patch = size % side == 0 ? size / side : new[] { 4, 2, 1 }.First(p => size % p == 0);
        return new UViTConfig
        {
            ImageSize = size, PatchSize = patch, InChannels = channels, EmbedDim = 128, Depth = 6, NumHeads = 4,
            NumClasses = numClasses, Conv = true,
        }.Validate();
    }
}
