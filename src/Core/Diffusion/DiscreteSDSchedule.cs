// Stable Diffusion's discrete schedule ("scaled linear" betas), as the official U-ViT H latent and MS-COCO models use it
// (train_ldm_discrete.py / train_t2i_discrete.py `stable_diffusion_beta_schedule` for training; libs/dpm_solver_pp.py
// `NoiseScheduleVP('discrete', betas=float32)` for sampling; github baofff/U-ViT).
// Training uses 1-based n = 1..1000 (alpha_bar[n] = prod_{i<=n} (1 - beta_i)) and feeds n to the network; sampling uses
// continuous t in (0, 1] with log alpha interpolated piecewise-linearly in float32 and feeds 1000 t (never rounded).
using UViT.MLNet.Core.Runtime;
using static TorchSharp.torch;

namespace UViT.MLNet.Core.Diffusion;

/// <summary>The discrete Stable Diffusion schedule: betas = linspace(sqrt(0.00085), sqrt(0.012), N)^2.</summary>
public sealed class DiscreteSDSchedule : NoiseSchedule, IDisposable
{
    private readonly double[] _betas;
    private readonly double[] _alphaBar;        // 1-based: _alphaBar[0] = 1
    private readonly Tensor _timeKnots;         // [N] float32: (k + 1) / N
    private readonly Tensor _logAlphaKnots;     // [N] float32: 0.5 cumsum(log(1 - beta))
    private readonly Tensor _flippedLogAlpha;   // [N] increasing, for the inverse
    private readonly Tensor _flippedTime;       // [N]

    /// <summary>Number of discrete steps N (1000).</summary>
    public int StepCount { get; }

    /// <summary>Creates the schedule; the defaults are Stable Diffusion's (and the official U-ViT's).</summary>
    /// <param name="linearStart">beta_1 (0.00085).</param>
    /// <param name="linearEnd">beta_N (0.012).</param>
    /// <param name="stepCount">N (1000).</param>
    public DiscreteSDSchedule(double linearStart = 0.00085, double linearEnd = 0.012, int stepCount = 1000)
    {
        if (stepCount < 2) throw new ArgumentException($"stepCount must be at least 2; got {stepCount}.", nameof(stepCount));
        StepCount = stepCount;
        _betas = ScaledLinearBetas(linearStart, linearEnd, stepCount);
        _alphaBar = new double[stepCount + 1];
        _alphaBar[0] = 1.0;
        for (int n = 1; n <= stepCount; n++) _alphaBar[n] = _alphaBar[n - 1] * (1.0 - _betas[n - 1]);

        // Tables outlive any caller's dispose scope: they are detached and disposed by Dispose().
        using var scope = NewDisposeScope();
        var betas32 = tensor(_betas).to(ScalarType.Float32);                                          // [N]
        _logAlphaKnots = betas32.SubtractedFrom(1.0).log().cumsum(0).Times(0.5).DetachFromDisposeScope(); // [N]
        _timeKnots = linspace(0.0, 1.0, stepCount + 1, dtype: ScalarType.Float32)[1..].DetachFromDisposeScope(); // [N]
        _flippedLogAlpha = _logAlphaKnots.flip(0).DetachFromDisposeScope();                          // [N]
        _flippedTime = _timeKnots.flip(0).DetachFromDisposeScope();                                  // [N]
    }

    /// <summary>
    /// <c>numpy.linspace(sqrt(start), sqrt(end), n) ** 2</c> in float64, with numpy's evaluation (i * step + start, last = end).
    /// </summary>
    public static double[] ScaledLinearBetas(double linearStart, double linearEnd, int stepCount)
    {
        double first = Math.Sqrt(linearStart), last = Math.Sqrt(linearEnd);
        double step = (last - first) / (stepCount - 1);
        var betas = new double[stepCount];
        for (int i = 0; i < stepCount; i++)
        {
            double root = i == stepCount - 1 ? last : i * step + first;
            betas[i] = root * root;
        }
        return betas;
    }

    /// <summary>beta_n for n = 1..N, as a copy (index 0 holds beta_1).</summary>
    public double[] Betas => (double[])_betas.Clone();

    /// <summary>alpha_bar[n] = prod_{i&lt;=n} (1 - beta_i) for 1-based n (alpha_bar[0] = 1), float64.</summary>
    public double AlphaBar(int n)
    {
        if (n < 0 || n > StepCount) throw new ArgumentOutOfRangeException(nameof(n), $"n must be in 0..{StepCount}; got {n}.");
        return _alphaBar[n];
    }

    /// <summary>alpha_bar[1..N] as a float64 tensor [N] (index 0 holds alpha_bar[1]).</summary>
    public Tensor AlphaBarTable() => tensor(_alphaBar[1..]);   // [N]

    /// <summary>Sampling end time 1/N (official <c>eps = 1. / N</c>).</summary>
    public override double DefaultEndTime => 1.0 / StepCount;

    /// <inheritdoc/>
    public override Tensor LogAlpha(Tensor t)
    {
        using var scope = NewDisposeScope();   // owns any device copies of the tables
        return PiecewiseLinear.Interpolate(t, _timeKnots.to(t.device), _logAlphaKnots.to(t.device)).MoveToOuterDisposeScope(); // [B]
    }

    /// <inheritdoc/>
    public override Tensor InverseLambda(Tensor lambda)
    {
        using var scope = NewDisposeScope();
        var logAlpha = LogOnePlusExpMinusTwoLambda(lambda).Times(-0.5);                                    // [B]
        return PiecewiseLinear.Interpolate(logAlpha, _flippedLogAlpha.to(lambda.device), _flippedTime.to(lambda.device))
            .MoveToOuterDisposeScope();                                                                // [B]
    }

    /// <summary>N t: the network time input when sampling (the official <c>t_continuous * N</c>, not rounded).</summary>
    public override Tensor NetworkTime(Tensor t) => t.Times((double)StepCount);   // [B]

    /// <inheritdoc/>
    public void Dispose()
    {
        _timeKnots.Dispose();
        _logAlphaKnots.Dispose();
        _flippedLogAlpha.Dispose();
        _flippedTime.Dispose();
    }
}
