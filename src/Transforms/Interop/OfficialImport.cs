// `uvit import`: official U-ViT checkpoint files (an official release, or nnet.pth / nnet_ema.pth of an official training run,
// e.g. one continued from `uvit export`) back into a model zip that this library samples from: the generator and, for latent
// models, DecodeLatents with the given autoencoder, as in src/Samples/apps/official-checkpoints.cs.
using Microsoft.ML;
using UViT.MLNet.Core.Autoencoder;
using UViT.MLNet.Core.Checkpoints;
using UViT.MLNet.Core.Generation;
using UViT.MLNet.Core.Networks;
using UViT.MLNet.Core.Runtime;
using UViT.MLNet.Core.Training;
using UViT.MLNet.Transforms.Generation;
using UViT.MLNet.Transforms.Latents;
using UViT.MLNet.Transforms.Persistence;
using static TorchSharp.torch;

namespace UViT.MLNet.Transforms.Interop;

/// <summary>What a checkpoint's weights need to become a model: the network, its schedule and the generation settings.</summary>
/// <param name="Source">Where these come from (config.json, a preset, or the shapes), for messages.</param>
public sealed record OfficialModelSpec(UViTConfig Network, NoiseScheduleKind Schedule, long? NullClass, SamplerSettings Sampling,
                                       PixelRange OutputRange, IReadOnlyList<string>? ClassNames, double? LatentScaleFactor,
                                       AttentionKernel Attention, string Source)
{
    /// <summary>Everything from an exported config.json: the import rebuilds the exported model zip exactly.</summary>
    public static OfficialModelSpec FromHandOff(OfficialHandOff handOff, string source) => new(
        handOff.NetworkConfig(), handOff.Schedule, handOff.NullClass, handOff.Sampling.ToSettings(), handOff.PixelRange,
        handOff.ClassNames.Length > 0 ? handOff.ClassNames : null, handOff.Latent?.ScaleFactor, handOff.Attention, source);

    /// <summary>
    /// An official configuration with its official sampling: DPM-Solver (continuous VP) or DPM-Solver++ (discrete), 50 steps,
    /// guidance s = 0.4 (ImageNet 256), 0.7 (ImageNet 512), 1.0 (MS-COCO), none for models without a null class.
    /// </summary>
    public static OfficialModelSpec FromPreset(UViTPreset preset)
    {
        var schedule = TrainingRecipe.ForPreset(preset.Name).Schedule;
        double guidance = preset.NullClass is null ? 0 : preset.Dataset switch { "ImageNet 512" => 0.7, "MS-COCO" => 1.0, _ => 0.4 };
        var sampling = new SamplerSettings
        {
            Sampler = schedule == NoiseScheduleKind.ContinuousVP ? SamplerKind.DpmSolver : SamplerKind.DpmSolverPlusPlus, Steps = 50, GuidanceScale = guidance,
        };
        return new(preset.Config, schedule, preset.NullClass, sampling, PixelRange.Symmetric, null, preset.LatentScaleFactor, AttentionKernel.Auto, $"preset {preset.Name}");
    }

    /// <summary>A network inferred from a checkpoint's shapes (see <see cref="UViTConfigInference"/>), with the given schedule and null class.</summary>
    public static OfficialModelSpec Inferred(UViTConfig network, NoiseScheduleKind schedule, long? nullClass, string source) => new(
        network, schedule, nullClass,
        new SamplerSettings { Sampler = schedule == NoiseScheduleKind.ContinuousVP ? SamplerKind.DpmSolver : SamplerKind.DpmSolverPlusPlus, GuidanceScale = nullClass is null ? 0 : 0.4 },
        PixelRange.Symmetric, null, network.InChannels is 1 or 3 ? null : AutoencoderKLConfig.StableDiffusionScaleFactor, AttentionKernel.Auto, source);

    /// <summary>
    /// The spec of a checkpoint that comes without config.json: the official preset whose layout it has, else the network its
    /// shapes imply with <paramref name="numHeads"/> heads (the one argument no shape records) and <paramref name="schedule"/>.
    /// </summary>
    /// <exception cref="ArgumentException">Several presets match, or none does and heads or schedule are missing (the message says which to give).</exception>
    public static OfficialModelSpec FromShapes(string checkpointPath, int? numHeads, NoiseScheduleKind? schedule, long? nullClass)
    {
        var state = StateDictFile.Read(checkpointPath);
        Dictionary<string, long[]> shapes;
        try
        {
            shapes = state.ToDictionary(kv => kv.Key, kv => kv.Value.shape);
        }
        finally
        {
            foreach (var tensor in state.Values) tensor.Dispose();
        }
        var presets = UViTPresets.MatchStateDict(shapes);
        if (presets.Count > 1 && numHeads is null)
            throw new ArgumentException($"'{checkpointPath}' has the layout of {string.Join(" and ", presets.Select(p => p.Name))}: choose one with --preset.");
        if (presets.Count == 1 && numHeads is null) return FromPreset(presets[0]);
        if (numHeads is null || schedule is null)
            throw new ArgumentException($"'{checkpointPath}' matches no official preset: give its config.json (--config, written by `uvit export`), " +
                                        "or --num-heads and --schedule (the two things its shapes do not tell).");
        return Inferred(UViTConfigInference.Infer(shapes, numHeads.Value, checkpointPath), schedule.Value, nullClass, $"inferred from the shapes of {checkpointPath}");
    }

    /// <summary>True for latent models (they need an autoencoder to make images).</summary>
    public bool IsLatent => LatentScaleFactor is not null;
}

/// <summary>Builds a model from official checkpoint files.</summary>
public static class OfficialImport
{
    /// <summary>
    /// The generation model of <paramref name="spec"/> with the weights of <paramref name="emaPath"/> (sampled by default) and
    /// <paramref name="rawPath"/> (null: the EMA weights serve as both, as in the official releases), each loaded strictly: a
    /// missing, unexpected or mis-shaped key fails naming it. Latent models get DecodeLatents with <paramref name="autoencoderPath"/>.
    /// </summary>
    /// <param name="inputSchema">The request schema to save the model with.</param>
    /// <exception cref="CheckpointMismatchException">A checkpoint's keys or shapes differ from the network's (every key named).</exception>
    /// <exception cref="ArgumentException">An autoencoder is missing for a latent model or given for a pixel model.</exception>
    /// <exception cref="NotSupportedException">A text-to-image network (its model needs the CLIP encoder chain).</exception>
    public static ITransformer Build(MLContext mlContext, OfficialModelSpec spec, string emaPath, string? rawPath, string? autoencoderPath, out DataViewSchema inputSchema)
    {
        ArgumentNullException.ThrowIfNull(mlContext);
        mlContext.RegisterUViT();
        var config = spec.Network;
        if (config.Conditioning == UViTConditioning.TextContext)
            throw new NotSupportedException("Importing text-to-image U-ViTs is not supported yet: their model zip needs the CLIP text encoder chain (EncodeText); " +
                                            "load the weights with StateDictLoader and build the chain as docs/text-to-image.md shows.");
        if (spec.IsLatent && autoencoderPath is null)
            throw new ArgumentException($"This is a latent model ({config.InChannels} channels, {spec.Source}): give the autoencoder its latents belong to " +
                                        "(the official assets/stable-diffusion/autoencoder_kl.pth, or a safetensors copy).");
        if (!spec.IsLatent && autoencoderPath is not null)
            throw new ArgumentException($"This is a pixel-space model ({config.InChannels} channels, {spec.Source}): it takes no autoencoder.");
        spec.Sampling.Validate(spec.Schedule);

        var device = TorchRuntime.ParseDevice(ContextSettings.Device(mlContext));
        bool fused = AttentionKernels.UseFused(spec.Attention, config, device);
        UViTNetwork? ema = null, raw = null;
        UViTGenerator? generator = null;
        UViTGenerationTransformer? uvit = null;
        try
        {
            ema = new UViTNetwork(config, device) { UseFusedAttention = fused };
            StateDictLoader.LoadFile(ema, emaPath);
            if (rawPath is not null)
            {
                raw = new UViTNetwork(config, device) { UseFusedAttention = fused };
                StateDictLoader.LoadFile(raw, rawPath);
            }
            generator = new UViTGenerator(raw ?? ema, ema, spec.Schedule, spec.NullClass);
            (ema, raw) = (null, null);                                                   // owned by the generator now
            uvit = new UViTGenerationTransformer(generator, spec.Sampling, spec.OutputRange, spec.ClassNames);
            var requests = uvit.Generator.ClassCount > 0 ? uvit.CreateRequests(mlContext, [(0, 0L)]) : uvit.CreateRequests(mlContext, [0L]);
            inputSchema = requests.Schema;
            if (!spec.IsLatent) return uvit;
            var decoder = mlContext.Transforms.DecodeLatents(autoencoderPath!, autoencoder: AutoencoderOf(autoencoderPath!), scaleFactor: spec.LatentScaleFactor)
                                  .Fit(uvit.Transform(requests));
            return uvit.Append(decoder);
        }
        catch
        {
            if (uvit is not null) uvit.Dispose();                                       // it owns the generator, which owns the networks
            else generator?.Dispose();
            raw?.Dispose();                                                             // null once the generator owns them
            ema?.Dispose();
            throw;
        }
    }

    /// <summary>The architecture of an autoencoder file, told from its shapes (refused when it is no KL autoencoder).</summary>
    private static AutoencoderKLConfig AutoencoderOf(string path)
    {
        var state = StateDictFile.Read(path);
        try
        {
            return AutoencoderConfigInference.Infer(state)?.Config
                   ?? throw new ArgumentException($"'{path}' is not a KL autoencoder checkpoint (CompVis, latent-diffusion or diffusers layout).");
        }
        finally
        {
            foreach (var tensor in state.Values) tensor.Dispose();
        }
    }
}
