// Euler-Maruyama on the reverse VP-SDE (Song et al. 2021), as the official U-ViT CIFAR-10 / CelebA models sample
// (sde.py `euler_maruyama(ReverseSDE(score_model), x_init, steps, eps=1e-3)`, github baofff/U-ViT; 1000 steps there).
// Grid [0] + linspace(eps, 1, steps) (float64, then float32), walked from the end; score = -eps_hat / sqrt(1 - alpha_bar_t);
// drift = -0.5 beta(t) x - g(t)^2 score with g = sqrt(beta); x += drift dt + g sqrt(-dt) z; no noise on the last step.
using UViT.MLNet.Core.Runtime;
using static TorchSharp.torch;

namespace UViT.MLNet.Core.Diffusion;

/// <summary>The stochastic reverse-SDE sampler of the official pixel-space models; draws per-step noise from the noise source.</summary>
public sealed class EulerMaruyamaSampler : DiffusionSampler
{
    private readonly ContinuousVPSchedule _schedule;
    private readonly float[] _grid;   // [steps + 1]: 0, eps, ..., T

    /// <summary>Plans the grid.</summary>
    /// <param name="schedule">The linear VP schedule (its beta(t) defines the SDE).</param>
    /// <param name="steps">Steps (official: 1000).</param>
    /// <param name="endTime">eps, the smallest positive grid time (official 1e-3).</param>
    public EulerMaruyamaSampler(ContinuousVPSchedule schedule, int steps, double endTime = 1e-3)
    {
        if (steps < 1) throw new ArgumentOutOfRangeException(nameof(steps), $"steps must be at least 1; got {steps}.");
        _schedule = schedule;
        _grid = new float[steps + 1];
        double tEnd = schedule.T, step = steps > 1 ? (tEnd - endTime) / (steps - 1) : 0;
        for (int i = 0; i < steps; i++) _grid[i + 1] = (float)(i == steps - 1 && steps > 1 ? tEnd : i * step + endTime); // numpy linspace
    }

    /// <inheritdoc/>
    public override int StepCount => _grid.Length - 1;

    /// <summary>How many noise draws one call makes (every step but the last).</summary>
    public int NoiseDraws => StepCount - 1;

    /// <inheritdoc/>
    protected override Tensor Step(SamplingContext context, Tensor x, int step, out Tensor? predictedX0)
    {
        int index = StepCount - 1 - step;
        float sValue = _grid[index];
        var s = tensor(sValue, device: x.device);                                 // []
        var t = tensor(_grid[index + 1], device: x.device);                       // []
        var beta = _schedule.Beta(t);                                             // []
        var forwardDrift = (Expand(beta.reshape(1), x) * x).Times(-0.5);         // [B, C, H, W]  f(x, t)
        var diffusion = beta.sqrt();                                              // []  g(t)
        var noiseVariance = _schedule.NoiseVariance(t);                           // []  1 - alpha_bar_t
        var eps = context.Model(x, _schedule.NetworkTime(Batch(x, _grid[index + 1]))); // [B, C, H, W]
        var score = Expand((-noiseVariance.rsqrt()).reshape(1), x) * eps;         // [B, C, H, W]
        var drift = forwardDrift - Expand(diffusion.Squared().reshape(1), x) * score; // [B, C, H, W]
        var dt = s - t;                                                           // []
        var mean = x.Plus(drift * dt);                                            // [B, C, H, W]
        predictedX0 = context.WantsX0
            ? (x - Expand(noiseVariance.sqrt().reshape(1), x) * eps) / Expand(noiseVariance.SubtractedFrom(1.0).sqrt().reshape(1), x)
            : null;                                                               // [B, C, H, W]
        if (sValue == 0) return mean;
        var sigma = diffusion * (-dt).sqrt();                                     // []
        var z = context.Noise.Next(x);                                            // [B, C, H, W]
        return mean.Plus(Expand(sigma.reshape(1), x) * z);                        // [B, C, H, W]
    }
}
