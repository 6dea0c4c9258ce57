// Generation from a trained U-ViT: per-row seeds, optional labels with classifier-free guidance, any sampler.
// Used by the ML.NET generation transformer and the CLI; holds no ML.NET types.
using UViT.MLNet.Core.Diffusion;
using UViT.MLNet.Core.Networks;
using UViT.MLNet.Core.Training;
using static TorchSharp.torch;

namespace UViT.MLNet.Core.Generation;

/// <summary>
/// A trained U-ViT ready to sample: raw and EMA networks, the schedule it was trained with, and the null class used as
/// the unconditional branch of guidance. Output samples are in model space ([-1, 1] for pixel models).
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

    /// <summary>Takes ownership of both networks.</summary>
    public UViTGenerator(UViTNetwork network, UViTNetwork emaNetwork, NoiseScheduleKind schedule, long? nullClass)
    {
        if (network.Config != emaNetwork.Config) throw new ArgumentException("The raw and EMA networks must share one configuration.");
        if (nullClass is long n && (network.Config.Conditioning != UViTConditioning.ClassLabel || n < 0 || n >= network.Config.NumClasses))
            throw new ArgumentOutOfRangeException(nameof(nullClass), $"Null class {n} is not a label of this network.");
        (Network, EmaNetwork, Schedule, NullClass) = (network, emaNetwork, schedule, nullClass);
        Network.eval();
        EmaNetwork.eval();
    }

    /// <summary>The architecture.</summary>
    public UViTConfig Config => Network.Config;

    /// <summary>Number of real classes a caller may ask for (the null class excluded); 0 for unconditional models.</summary>
    public int ClassCount => Config.Conditioning != UViTConditioning.ClassLabel ? 0 : NullClass is null ? Config.NumClasses : Config.NumClasses - 1;

    /// <summary>Generates one sample per seed.</summary>
    /// <param name="seeds">One seed per sample: sample i depends only on seeds[i] (and its label), not on the batch.</param>
    /// <param name="labels">One class per sample for class models (0-based), else null.</param>
    /// <returns>[B, C, H, W] float32 samples on the CPU, in model space.</returns>
    public Tensor Generate(IReadOnlyList<long> seeds, IReadOnlyList<long>? labels, SamplerSettings settings,
                           IProgress<SamplerProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        settings.Validate(Schedule);
        var network = settings.UseEmaWeights ? EmaNetwork : Network;
        var device = network.parameters().First().device;
        bool classModel = Config.Conditioning == UViTConditioning.ClassLabel;
        if (Config.Conditioning == UViTConditioning.TextContext)
            throw new NotSupportedException("Text-conditioned generation takes contexts; use GenerateFromContext.");
        if (classModel && (labels is null || labels.Count != seeds.Count))
            throw new ArgumentException($"This model is class-conditional: pass one label per seed ({seeds.Count}); got {labels?.Count.ToString() ?? "none"}.");
        if (!classModel && labels is not null)
            throw new ArgumentException("This model is unconditional; it takes no labels.");
        var outOfRange = labels?.Where(l => l < 0 || l >= ClassCount).Distinct().Take(5).ToList() ?? [];
        if (outOfRange.Count > 0)
            throw new ArgumentOutOfRangeException(nameof(labels), $"Labels must lie in [0, {ClassCount - 1}]; got {string.Join(", ", outOfRange)}.");
        if (settings.GuidanceScale != 0 && classModel && NullClass is null)
            throw new ArgumentException("Guidance needs a model trained with a null class (condition dropout); set GuidanceScale to 0.");

        using var scope = NewDisposeScope();
        using var noise = new RowSeededNoise(seeds);
        var initial = noise.InitialNoise([Config.InChannels, Config.ImageSize, Config.ImageSize]).to(device);  // [B, C, H, W]
        NoisePredictor model = classModel
            ? ClassifierFreeGuidance.ForClassLabels(network, tensor(labels!.ToArray(), device: device), NullClass ?? 0, settings.Guidance)
            : (x, time) => network.forward(x, time);
        NoiseSchedule schedule = Schedule == NoiseScheduleKind.ContinuousVP ? new ContinuousVPSchedule() : new DiscreteSDSchedule();
        try
        {
            var samples = settings.Create(schedule).Sample(model, initial, noise, progress, cancellationToken);  // [B, C, H, W]
            return samples.to(ScalarType.Float32).cpu().MoveToOuterDisposeScope();
        }
        finally
        {
            (schedule as IDisposable)?.Dispose();
        }
    }

    public void Dispose()
    {
        if (!ReferenceEquals(EmaNetwork, Network)) EmaNetwork.Dispose();
        Network.Dispose();
    }
}
