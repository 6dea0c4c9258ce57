// What all samplers share: the call shape (model, x_T, noise, progress, cancellation), progress reports, and the
// per-step dispose scopes that keep a long sampling loop free of tensor leaks.
using TorchSharp;
using UViT.MLNet.Core.Runtime;
using static TorchSharp.torch;

namespace UViT.MLNet.Core.Diffusion;

/// <summary>One progress report: solver step <see cref="Step"/> of <see cref="Total"/> has finished.</summary>
/// <param name="Step">1-based index of the finished step.</param>
/// <param name="Total">Number of steps of this call.</param>
/// <param name="PredictedX0">
/// [B, C, H, W] the model's current estimate of the clean sample, only when the sampler's
/// <see cref="DiffusionSampler.ReportPredictedX0"/> is set; the receiver owns it and must dispose it.
/// </param>
public sealed record SamplerProgress(int Step, int Total, Tensor? PredictedX0 = null);

/// <summary>A sampler: integrates from x_T (pure noise at time T) to a sample, calling a noise predictor.</summary>
public abstract class DiffusionSampler
{
    /// <summary>Attach a copy of the current x0 estimate to each progress report (costs one copy per step).</summary>
    public bool ReportPredictedX0 { get; init; }

    /// <summary>Number of solver steps one call takes (the Total of its progress reports).</summary>
    public abstract int StepCount { get; }

    /// <summary>Generates samples from <paramref name="initialNoise"/>.</summary>
    /// <param name="model">The (guided) noise predictor.</param>
    /// <param name="initialNoise">[B, C, H, W] x_T ~ N(0, I); not modified.</param>
    /// <param name="noise">Per-step noise for stochastic samplers (default: torch's global generator); ignored by ODE solvers.</param>
    /// <param name="progress">Receives one report per finished step.</param>
    /// <param name="cancellationToken">Checked before every step.</param>
    /// <returns>[B, C, H, W] the samples; the caller owns them.</returns>
    public Tensor Sample(NoisePredictor model, Tensor initialNoise, ISamplerNoise? noise = null,
                         IProgress<SamplerProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        if (initialNoise.dim() < 2) throw new ArgumentException($"initialNoise must be batched [B, ...]; got shape [{string.Join(", ", initialNoise.shape)}].");
        using var noGrad = no_grad();
        bool wantsX0 = ReportPredictedX0 && progress is not null;
        var context = new SamplingContext(model, noise ?? new GeneratorNoise(), wantsX0);
        Tensor x = initialNoise.alias();
        try
        {
            for (int step = 0; step < StepCount; step++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                Tensor next;
                Tensor? x0 = null;
                using (var scope = NewDisposeScope())
                {
                    next = Step(context, x, step, out var predicted).MoveToOuterDisposeScope();   // [B, C, H, W]
                    if (wantsX0 && predicted is not null) x0 = predicted.clone().DetachFromDisposeScope();
                }
                x.Dispose();
                x = next;
                progress?.Report(new SamplerProgress(step + 1, StepCount, x0));
            }
            return x;
        }
        catch
        {
            x.Dispose();
            throw;
        }
    }

    /// <summary>One solver step from the state after <paramref name="step"/> steps; runs inside its own dispose scope.</summary>
    /// <param name="x">[B, C, H, W] current state.</param>
    /// <param name="predictedX0">[B, C, H, W] the x0 estimate this step made (may be null).</param>
    /// <returns>[B, C, H, W] the next state.</returns>
    protected abstract Tensor Step(SamplingContext context, Tensor x, int step, out Tensor? predictedX0);

    /// <summary>Per-call state handed to <see cref="Step"/>.</summary>
    /// <param name="Model">The noise predictor.</param>
    /// <param name="Noise">Per-step noise for stochastic samplers.</param>
    /// <param name="WantsX0">Whether the step should also return its x0 estimate (someone will receive it).</param>
    protected sealed record SamplingContext(NoisePredictor Model, ISamplerNoise Noise, bool WantsX0);

    /// <summary>[B] tensor filled with the float32 value <paramref name="t"/> (the official <c>ones(B) * t</c>).</summary>
    protected static Tensor Batch(Tensor x, float t)
    {
        using var value = t.ToScalar();
        return full(x.shape[0], value, dtype: ScalarType.Float32, device: x.device);
    }

    /// <summary>[B] -> [B, 1, ..., 1] for broadcasting against <paramref name="x"/> (official <c>expand_dims</c>).</summary>
    protected static Tensor Expand(Tensor v, Tensor x) => v.reshape([v.shape[0], .. Enumerable.Repeat(1L, (int)x.dim() - 1)]);
}
