// DDIM (Song, Meng & Ermon 2021, "Denoising Diffusion Implicit Models") on a time-uniform grid of any VP schedule.
// Not used by the official U-ViT code; offered as the familiar baseline. eta = 0 is deterministic (the first-order
// DPM-Solver step, ending at the schedule's end time like the ODE solvers), eta = 1 has DDPM's posterior variance.
// With eta > 0 the last step returns the noise-free x0 prediction, as DDPM's last step does (it adds no noise and its mean
// at n = 1 is exactly the x0 prediction) and diffusers' DDIM with set_alpha_to_one: stopping at the end time instead would
// leave that time's noise in the image (sigma = 0.029 on the discrete schedule, ~3.7 of 255 grey levels).
using UViT.MLNet.Core.Runtime;
using static TorchSharp.torch;

namespace UViT.MLNet.Core.Diffusion;

/// <summary>
/// DDIM with stochasticity <see cref="Eta"/>; draws per-step noise from the noise source only when eta &gt; 0, once per step
/// but the last (which returns the x0 prediction).
/// </summary>
public sealed class DdimSampler : DiffusionSampler
{
    private readonly NoiseSchedule _schedule;
    private readonly float[] _grid;   // [steps + 1] from T down to the end time

    /// <summary>0: deterministic DDIM; 1: DDPM-like ancestral sampling (which ends with the noise-free x0 prediction).</summary>
    public double Eta { get; }

    /// <summary>Plans the grid linspace(T, endTime, steps + 1).</summary>
    public DdimSampler(NoiseSchedule schedule, int steps, double eta = 0, double? endTime = null)
    {
        if (steps < 1) throw new ArgumentOutOfRangeException(nameof(steps), $"steps must be at least 1; got {steps}.");
        if (!(eta >= 0)) throw new ArgumentOutOfRangeException(nameof(eta), $"eta must be >= 0; got {eta}.");
        _schedule = schedule;
        Eta = eta;
        using var grid = linspace(schedule.T, endTime ?? schedule.DefaultEndTime, steps + 1, dtype: ScalarType.Float32);
        _grid = grid.data<float>().ToArray();
    }

    /// <inheritdoc/>
    public override int StepCount => _grid.Length - 1;

    /// <inheritdoc/>
    protected override Tensor Step(SamplingContext context, Tensor x, int step, out Tensor? predictedX0)
    {
        var s = Batch(x, _grid[step]);                                           // [B]
        var t = Batch(x, _grid[step + 1]);                                       // [B]
        var (alphaS, sigmaS) = (_schedule.Alpha(s), _schedule.Sigma(s));        // [B]
        var (alphaT, sigmaT) = (_schedule.Alpha(t), _schedule.Sigma(t));        // [B]
        var eps = context.Model(x, _schedule.NetworkTime(s));                    // [B, C, H, W]
        var x0 = (x - Expand(sigmaS, x) * eps) / Expand(alphaS, x);              // [B, C, H, W]
        predictedX0 = x0;
        if (Eta == 0) return (Expand(alphaT, x) * x0).Plus(Expand(sigmaT, x) * eps);   // [B, C, H, W]
        if (step == StepCount - 1) return x0;                                   // [B, C, H, W] DDPM's last step: no noise

        // sigma_eta = eta sqrt((1 - abar_t) / (1 - abar_s)) sqrt(1 - abar_s / abar_t), abar = alpha^2
        var ratio = (alphaS / alphaT).Squared();                                                  // [B]
        var sigmaEta = minimum((sigmaT / sigmaS * ratio.SubtractedFrom(1.0).AtLeast(0).sqrt()).Times(Eta), sigmaT); // [B]
        var direction = (sigmaT.Squared() - sigmaEta.Squared()).AtLeast(0).sqrt();                // [B]
        var z = context.Noise.Next(x);                                                           // [B, C, H, W]
        return (Expand(alphaT, x) * x0).Plus(Expand(direction, x) * eps).Plus(Expand(sigmaEta, x) * z); // [B, C, H, W]
    }
}
