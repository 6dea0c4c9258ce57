// How to generate: which sampler, how many steps, how much guidance, which weights.
using UViT.MLNet.Core.Diffusion;
using UViT.MLNet.Core.Training;

namespace UViT.MLNet.Core.Generation;

/// <summary>The samplers UViT.MLNet offers.</summary>
public enum SamplerKind
{
    /// <summary>DPM-Solver++ (singlestep, official order schedule): the official sampler of the H and MS-COCO models.</summary>
    DpmSolverPlusPlus,
    /// <summary>DPM-Solver "fast" (noise prediction, uniform in lambda): the official sampler of the pixel and L models.</summary>
    DpmSolver,
    /// <summary>Euler-Maruyama on the reverse SDE (continuous VP only; 1000 steps in the paper's CIFAR-10/CelebA results).</summary>
    EulerMaruyama,
    /// <summary>DDIM (eta 0 = deterministic).</summary>
    Ddim,
}

/// <summary>Sampling options; defaults are the paper's: 50 model evaluations, EMA weights.</summary>
public sealed record SamplerSettings
{
    /// <summary>The solver.</summary>
    public SamplerKind Sampler { get; init; } = SamplerKind.DpmSolverPlusPlus;
    /// <summary>Model evaluations (DPM-Solver / DPM-Solver++) or steps (Euler-Maruyama, DDIM).</summary>
    public int Steps { get; init; } = 50;
    /// <summary>Guidance as the U-ViT paper's extra weight s: eps_c + s (eps_c - eps_u). 0 = no guidance.</summary>
    public double GuidanceScale { get; init; }
    /// <summary>Sample with the EMA weights (the paper's choice) rather than the raw ones.</summary>
    public bool UseEmaWeights { get; init; } = true;
    /// <summary>DDIM's eta.</summary>
    public double DdimEta { get; init; }

    /// <summary>One line for logs and reports, e.g. "Ddim (eta 1), 50 steps, guidance s = 2, EMA weights".</summary>
    public string Summary => FormattableString.Invariant(
        $"{Sampler}{(Sampler == SamplerKind.Ddim ? $" (eta {DdimEta})" : "")}, {Steps} steps, guidance s = {GuidanceScale}, {(UseEmaWeights ? "EMA" : "raw")} weights");

    /// <summary>The same guidance in the DiT / diffusers convention: g = 1 + s (1 = no guidance).</summary>
    public double DiffusersGuidanceScale => 1 + GuidanceScale;

    /// <summary>Most sampling steps accepted: 10 times the paper's longest (Euler-Maruyama, 1000); more only exhausts memory.</summary>
    public const int MaxSteps = 10_000;
    /// <summary>Largest guidance magnitude accepted: far beyond any useful value (the paper uses s &lt;= 4), small enough to stay finite.</summary>
    public const double MaxGuidanceScale = 1000;

    /// <summary>Throws naming the invalid setting.</summary>
    public SamplerSettings Validate(NoiseScheduleKind schedule)
    {
        if (!Enum.IsDefined(Sampler)) throw new ArgumentOutOfRangeException(nameof(Sampler), $"Unknown sampler {(int)Sampler}.");
        if (!Enum.IsDefined(schedule)) throw new ArgumentOutOfRangeException(nameof(schedule), $"Unknown noise schedule {(int)schedule}.");
        if (Steps is < 1 or > MaxSteps) throw new ArgumentOutOfRangeException(nameof(Steps), $"Sampling steps must lie in [1, {MaxSteps}]; got {Steps}.");
        if (!(Math.Abs(GuidanceScale) <= MaxGuidanceScale))
            throw new ArgumentOutOfRangeException(nameof(GuidanceScale), $"Guidance must be finite and at most {MaxGuidanceScale} in magnitude; got {GuidanceScale}.");
        if (Sampler == SamplerKind.EulerMaruyama && schedule != NoiseScheduleKind.ContinuousVP)
            throw new ArgumentException("Euler-Maruyama needs the continuous VP schedule; this model uses the discrete one. Use DpmSolverPlusPlus or Ddim.");
        if (!(DdimEta >= 0) || !double.IsFinite(DdimEta)) throw new ArgumentOutOfRangeException(nameof(DdimEta), $"DDIM eta must be finite and >= 0; got {DdimEta}.");
        return this;
    }

    /// <summary>The guidance weight object the samplers take.</summary>
    public GuidanceWeight Guidance => GuidanceWeight.FromExtraWeight(GuidanceScale);

    /// <summary>Builds the sampler for a schedule (the caller disposes the schedule after sampling).</summary>
    internal DiffusionSampler Create(NoiseSchedule schedule) => Sampler switch
    {
        SamplerKind.DpmSolverPlusPlus => new DpmSolverPlusPlusSampler(schedule, Steps),
        SamplerKind.DpmSolver => new DpmSolverFastSampler(schedule, Steps),
        SamplerKind.EulerMaruyama => new EulerMaruyamaSampler((ContinuousVPSchedule)schedule, Steps),
        SamplerKind.Ddim => new DdimSampler(schedule, Steps, DdimEta),
        _ => throw new ArgumentOutOfRangeException(nameof(Sampler), Sampler, "Unknown sampler."),
    };
}
