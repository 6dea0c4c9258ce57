// `uvit export`: a model zip's U-ViT as the official code's checkpoint files, so that training can continue with the official
// PyTorch code (github baofff/U-ViT) on many GPUs. The network's state dict keys are the official ones by construction
// (UViTNetwork mirrors libs/uvit.py and libs/uvit_t2i.py; the presets' layouts are tested against official_configs.json).
using Microsoft.ML;
using UViT.MLNet.Core.Autoencoder;
using UViT.MLNet.Core.Checkpoints;
using UViT.MLNet.Core.Networks;
using UViT.MLNet.Core.Training;
using UViT.MLNet.Transforms.Generation;
using UViT.MLNet.Transforms.Latents;

namespace UViT.MLNet.Transforms.Interop;

/// <summary>Writes a model's U-ViT in the official checkpoint layout with the config values the official code needs.</summary>
public static class OfficialExport
{
    /// <summary>The raw weights' file name (official <c>TrainState.save</c>: <c>nnet.pth</c>).</summary>
    public const string RawFile = "nnet.pth";
    /// <summary>The EMA weights' file name (official: <c>nnet_ema.pth</c>; the official releases hold these).</summary>
    public const string EmaFile = "nnet_ema.pth";
    /// <summary>The hand-off config (<see cref="OfficialHandOff"/>).</summary>
    public const string ConfigFile = "config.json";
    /// <summary>The Python lines for an official config file (<see cref="OfficialConfigSnippet"/>).</summary>
    public const string SnippetFile = "nnet_config.py";

    /// <summary>
    /// Writes <see cref="RawFile"/> and <see cref="EmaFile"/> (torch.save zip archives of flat state dicts), <see cref="ConfigFile"/>
    /// and <see cref="SnippetFile"/> into <paramref name="folder"/>, each atomically, and returns the hand-off.
    /// </summary>
    /// <param name="model">A loaded model zip: a U-ViT generation transformer, alone or in a chain (with a latent decoder).</param>
    /// <exception cref="ArgumentException">The model holds no U-ViT generation transformer.</exception>
    public static OfficialHandOff Write(ITransformer model, string folder)
    {
        var stages = model is IEnumerable<ITransformer> chain ? chain.ToList() : [model];
        var uvit = stages.OfType<UViTGenerationTransformer>().LastOrDefault()
                   ?? throw new ArgumentException($"The model is a {model.GetType().Name} holding no U-ViT generation transformer: nothing to export.");
        var decoder = stages.OfType<LatentDecodingTransformer>().FirstOrDefault();
        var handOff = Describe(uvit, decoder);
        Directory.CreateDirectory(folder);
        StateDictFile.WriteTorchZip(Path.Combine(folder, RawFile), uvit.Generator.Network.state_dict());
        StateDictFile.WriteTorchZip(Path.Combine(folder, EmaFile), uvit.Generator.EmaNetwork.state_dict());
        AtomicFile.Write(Path.Combine(folder, ConfigFile), s => { using var w = new StreamWriter(s, leaveOpen: true); w.Write(handOff.ToJson()); });
        AtomicFile.Write(Path.Combine(folder, SnippetFile), s => { using var w = new StreamWriter(s, leaveOpen: true); w.Write(OfficialConfigSnippet.Render(handOff)); });
        return handOff;
    }

    /// <summary>The hand-off of a generator (and the latent decoder after it, if any), without writing anything.</summary>
    public static OfficialHandOff Describe(UViTGenerationTransformer uvit, LatentDecodingTransformer? decoder)
    {
        var config = uvit.Generator.Config;
        if (config.SkipMode != UViTSkipMode.Concat || config.TimeConditioning != UViTTimeConditioning.Token)
            throw new ArgumentException($"The model is an ablation variant (SkipMode {config.SkipMode}, TimeConditioning {config.TimeConditioning}) " +
                                        "that the official code cannot build: only Concat skips with time as a token export.");
        var schedule = uvit.Generator.Schedule;
        bool text = config.Conditioning == UViTConditioning.TextContext, latent = decoder is not null || config.InChannels == 4;
        var preset = UViTPresets.All.FirstOrDefault(p => p.Config == config);
        var nnet = new Dictionary<string, object?> { ["name"] = text ? "uvit_t2i" : "uvit" };
        foreach (var (key, value) in config.ToOfficialArguments()) nnet[key] = value;
        var notes = new List<string>();

        string? script = (text, latent, schedule) switch
        {
            (true, _, NoiseScheduleKind.DiscreteSD) => "train_t2i_discrete.py",
            (false, true, NoiseScheduleKind.ContinuousVP) => "train_ldm.py",
            (false, true, NoiseScheduleKind.DiscreteSD) => "train_ldm_discrete.py",
            (false, false, NoiseScheduleKind.ContinuousVP) => "train.py",
            _ => null,
        };
        if (script is null)
            notes.Add($"the official code trains {(text ? "text-to-image" : latent ? "latent" : "pixel-space")} models only with the " +
                      $"{(schedule == NoiseScheduleKind.DiscreteSD ? "continuous VP" : "discrete")} schedule; this model uses {schedule}: the official scripts would train it with another forward process.");

        // The model zip does not record its recipe: the official one of the same architecture, else of the same kind of model.
        string recipeOf = preset?.Name ?? (text, latent, schedule, config.NumClasses > 0) switch
        {
            (true, _, _, _) => "mscoco_uvit_small",
            (false, true, NoiseScheduleKind.DiscreteSD, _) => "imagenet256_uvit_huge",
            (false, true, _, _) => "imagenet256_uvit_large",
            (false, false, _, true) => "imagenet64_uvit_mid",
            _ => "cifar10_uvit_small",
        };
        var recipe = TrainingRecipe.ForPreset(recipeOf);
        bool guided = uvit.Generator.NullClass is not null || (text && uvit.Generator.EmptyContext is not null);
        string source = preset is not null
            ? $"the official recipe of {preset.Name} (this model has its architecture)"
            : $"the official recipe of {recipeOf} (the nearest official model; the model zip does not record the recipe it was trained with)";
        double dropout = guided ? recipe.ConditionDropProbability : 0;
        if (guided && dropout == 0)
        {
            dropout = 0.1;                                                              // ImageNet 64 trains without guidance
            source += "; p_uncond 0.1 as the official guided H and MS-COCO models (the model has a null class)";
        }
        if (preset is null) notes.Add("no official configuration has this architecture: start from the official config named in recipe.source and replace its nnet section.");

        OfficialLatent? latentInfo = null;
        if (decoder is not null)
        {
            var autoencoder = decoder.Autoencoder.Config;
            bool klf8 = autoencoder with { ScaleFactor = AutoencoderKLConfig.StableDiffusionScaleFactor } == AutoencoderKLConfig.StableDiffusionKLF8;
            latentInfo = new OfficialLatent(klf8, autoencoder.ScaleFactor, klf8
                ? "the decoder in the model zip has Stable Diffusion KL-f8's architecture; the official code loads its own file (assets/stable-diffusion/autoencoder_kl.pth), so train on latents of that same autoencoder (its weights cannot be compared here)."
                : "the model zip's autoencoder is NOT Stable Diffusion KL-f8: the official code only loads KL-f8, so the exported network would be trained on other latents.");
            if (!klf8) notes.Add("the latent autoencoder is not KL-f8 (see latent.note).");
        }
        else if (latent) notes.Add("a 4-channel model without a latent decoder in the model zip: the official latent scripts assume Stable Diffusion KL-f8 latents (scale 0.18215).");

        return new OfficialHandOff
        {
            Nnet = nnet, Preset = preset?.Name, Schedule = schedule, TrainScript = script,
            Recipe = new OfficialRecipe(recipe.LearningRate, [recipe.Beta1, recipe.Beta2], recipe.WeightDecay, recipe.WarmupSteps, recipe.EmaRate,
                                        dropout, recipe.BatchSize, source),
            NullClass = uvit.Generator.NullClass, ClassNames = [.. uvit.ClassNames], PixelRange = uvit.OutputRange,
            Sampling = OfficialSampling.From(uvit.Settings), Attention = uvit.Generator.Network.UseFusedAttention ? AttentionKernel.Fused : AttentionKernel.Plain, Latent = latentInfo, Notes = [.. notes],
        };
    }
}
