// Generation from a trained U-ViT: per-row seeds, optional labels with classifier-free guidance, any sampler.
// Used by the ML.NET generation transformer and the CLI; holds no ML.NET types.
using UViT.MLNet.Core.Diffusion;
using UViT.MLNet.Core.Networks;
using UViT.MLNet.Core.Training;
using static TorchSharp.torch;

namespace UViT.MLNet.Core.Generation;

/// <summary>
/// A trained U-ViT ready to sample: raw and EMA networks, the schedule it was trained with, and the unconditional input of
/// guidance (the null class of a class model, the empty prompt's context of a text model). Output samples are in model
/// space ([-1, 1] for pixel models).
/// </summary>
public sealed class UViTGenerator : IDisposable
{
    /// <summary>The raw weights.</summary>
    public UViTNetwork Network { get; }
    /// <summary>The EMA weights (sampled by default); may be the same object as <see cref="Network"/> when no EMA exists.</summary>
    public UViTNetwork EmaNetwork { get; }
    /// <summary>The forward process the network was trained with.</summary>
    public NoiseScheduleKind Schedule { get; }
    /// <summary>The label of the unconditional branch (class models trained with guidance dropout), or null.</summary>
    public long? NullClass { get; }
    /// <summary>[T, D] context of the empty prompt (text models trained with guidance dropout), on the CPU, or null.</summary>
    public Tensor? EmptyContext { get; }

    /// <summary>
    /// Throws when <paramref name="guidanceScale"/> asks for guidance that a model of this <paramref name="conditioning"/>
    /// cannot give: a class model needs its null class, a text model the empty prompt's context (both come from condition
    /// dropout in training); unconditional models ignore guidance. The trainer calls it before training, generation before sampling.
    /// </summary>
    public static void ThrowIfGuidanceUnavailable(UViTConditioning conditioning, long? nullClass, bool hasEmptyContext, double guidanceScale)
    {
        if (guidanceScale == 0) return;
        if (conditioning == UViTConditioning.ClassLabel && nullClass is null)
            throw new ArgumentException("Guidance needs a model trained with a null class (condition dropout); set GuidanceScale to 0.");
        if (conditioning == UViTConditioning.TextContext && !hasEmptyContext)
            throw new ArgumentException("Guidance needs the empty prompt's context (a model trained with context dropout); set GuidanceScale to 0.");
    }

    /// <summary>Takes ownership of both networks; copies <paramref name="emptyContext"/>.</summary>
    /// <param name="emptyContext">[T, D] context of the empty prompt, for guided text models.</param>
    public UViTGenerator(UViTNetwork network, UViTNetwork emaNetwork, NoiseScheduleKind schedule, long? nullClass, Tensor? emptyContext = null)
    {
        if (network.Config != emaNetwork.Config) throw new ArgumentException("The raw and EMA networks must share one configuration.");
        var config = network.Config;
        if (nullClass is long n && (config.Conditioning != UViTConditioning.ClassLabel || n < 0 || n >= config.NumClasses))
            throw new ArgumentOutOfRangeException(nameof(nullClass), $"Null class {n} is not a label of this network.");
        if (emptyContext is not null)
        {
            if (config.Conditioning != UViTConditioning.TextContext)
                throw new ArgumentException("An empty-prompt context was given for a network without text conditioning.", nameof(emptyContext));
            long[] expected = [config.NumClipTokens!.Value, config.ClipDim!.Value];
            if (!emptyContext.shape.SequenceEqual(expected))
                throw new ArgumentException($"The empty-prompt context is [{string.Join(", ", emptyContext.shape)}]; this network needs [{string.Join(", ", expected)}].", nameof(emptyContext));
            EmptyContext = emptyContext.detach().to(ScalarType.Float32).cpu().clone();
        }
        (Network, EmaNetwork, Schedule, NullClass) = (network, emaNetwork, schedule, nullClass);
        Network.eval();
        EmaNetwork.eval();
    }

    /// <summary>The architecture.</summary>
    public UViTConfig Config => Network.Config;

    /// <summary>Number of real classes a caller may ask for (the null class excluded); 0 for unconditional models.</summary>
    public int ClassCount => Config.Conditioning != UViTConditioning.ClassLabel ? 0 : NullClass is null ? Config.NumClasses : Config.NumClasses - 1;

    /// <summary>Generates one sample per seed with a class or unconditional model.</summary>
    /// <param name="seeds">One seed per sample: sample i depends only on seeds[i] (and its label), not on the batch.</param>
    /// <param name="labels">One class per sample for class models (0-based), else null.</param>
    /// <returns>[B, C, H, W] float32 samples on the CPU, in model space.</returns>
    public Tensor Generate(IReadOnlyList<long> seeds, IReadOnlyList<long>? labels, SamplerSettings settings,
                           IProgress<SamplerProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        settings.Validate(Schedule);
        bool classModel = Config.Conditioning == UViTConditioning.ClassLabel;
        if (Config.Conditioning == UViTConditioning.TextContext)
            throw new NotSupportedException("This model is text-conditioned: generate with GenerateFromContext (contexts from a CLIP text encoder).");
        if (classModel && (labels is null || labels.Count != seeds.Count))
            throw new ArgumentException($"This model is class-conditional: pass one label per seed ({seeds.Count}); got {labels?.Count.ToString() ?? "none"}.");
        if (!classModel && labels is not null)
            throw new ArgumentException("This model is unconditional; it takes no labels.");
        var outOfRange = labels?.Where(l => l < 0 || l >= ClassCount).Distinct().Take(5).ToList() ?? [];
        if (outOfRange.Count > 0)
            throw new ArgumentOutOfRangeException(nameof(labels), $"Labels must lie in [0, {ClassCount - 1}]; got {string.Join(", ", outOfRange)}.");
        ThrowIfGuidanceUnavailable(Config.Conditioning, NullClass, EmptyContext is not null, settings.GuidanceScale);

        var network = settings.UseEmaWeights ? EmaNetwork : Network;
        return Sample(seeds, settings, progress, cancellationToken, device => classModel
            ? ClassifierFreeGuidance.ForClassLabels(network, tensor(labels!.ToArray(), device: device), NullClass ?? 0, settings.Guidance)
            : (x, time) => network.forward(x, time));
    }

    /// <summary>Generates one sample per seed with a text model, guided by the empty prompt's context.</summary>
    /// <param name="seeds">One seed per sample: sample i depends only on seeds[i] and its context, not on the batch.</param>
    /// <param name="contexts">[B, T, D] text contexts (e.g. from <c>ClipTextEncoder.Encode</c>), one per seed.</param>
    /// <returns>[B, C, H, W] float32 samples on the CPU, in model space.</returns>
    public Tensor GenerateFromContext(IReadOnlyList<long> seeds, Tensor contexts, SamplerSettings settings,
                                      IProgress<SamplerProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        settings.Validate(Schedule);
        if (Config.Conditioning != UViTConditioning.TextContext)
            throw new NotSupportedException("This model is not text-conditioned: generate with Generate (labels or none).");
        long[] expected = [seeds.Count, Config.NumClipTokens!.Value, Config.ClipDim!.Value];
        if (!contexts.shape.SequenceEqual(expected))
            throw new ArgumentException($"Contexts are [{string.Join(", ", contexts.shape)}]; expected [{string.Join(", ", expected)}] (one [tokens, width] context per seed).", nameof(contexts));
        ThrowIfGuidanceUnavailable(Config.Conditioning, NullClass, EmptyContext is not null, settings.GuidanceScale);

        var network = settings.UseEmaWeights ? EmaNetwork : Network;
        var dtype = network.parameters().First().dtype;
        return Sample(seeds, settings, progress, cancellationToken, device =>
        {
            var c = contexts.to(dtype, device);                                                       // [B, T, D]
            if (settings.GuidanceScale == 0) return (x, time) => network.forward(x, time, context: c);
            var empty = EmptyContext!.to(dtype, device).unsqueeze(0);                                 // [1, T, D]
            return ClassifierFreeGuidance.ForTextContext(network, c, empty, settings.Guidance);
        });
    }

    // Runs the sampler from per-row seeded noise with the predictor made for the network's device.
    private Tensor Sample(IReadOnlyList<long> seeds, SamplerSettings settings, IProgress<SamplerProgress>? progress,
                          CancellationToken cancellationToken, Func<Device, NoisePredictor> predictorOn)
    {
        var device = (settings.UseEmaWeights ? EmaNetwork : Network).parameters().First().device;
        using var scope = NewDisposeScope();
        using var noise = new RowSeededNoise(seeds);
        var initial = noise.InitialNoise([Config.InChannels, Config.ImageSize, Config.ImageSize]).to(device);  // [B, C, H, W]
        var model = predictorOn(device);
        NoiseSchedule schedule = Schedule == NoiseScheduleKind.ContinuousVP ? new ContinuousVPSchedule() : new DiscreteSDSchedule();
        try
        {
            var samples = settings.Create(schedule).Sample(model, initial, noise, progress, cancellationToken);  // [B, C, H, W]
            // NaN pixels would come out as black images with no error: a network or a setting (extreme guidance) that produces
            // them is reported instead.
            if (!isfinite(samples).all().item<bool>())
                throw new ArithmeticException($"Sampling produced NaN or infinite values ({settings.Sampler}, {settings.Steps} steps, guidance {settings.GuidanceScale}): " +
                                              "the weights are not finite, or the guidance is too large for this model.");
            return samples.to(ScalarType.Float32).cpu().MoveToOuterDisposeScope();
        }
        finally
        {
            (schedule as IDisposable)?.Dispose();
        }
    }

    public void Dispose()
    {
        EmptyContext?.Dispose();
        if (!ReferenceEquals(EmaNetwork, Network)) EmaNetwork.Dispose();
        Network.Dispose();
    }
}
