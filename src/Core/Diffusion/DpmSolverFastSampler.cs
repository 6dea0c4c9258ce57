// DPM-Solver "fast" (Lu et al. 2022, "DPM-Solver: A Fast ODE Solver for Diffusion Probabilistic Model Sampling in Around
// 10 Steps"), noise prediction, as the official U-ViT continuous-time models sample (dpm_solver_pytorch.py
// `DPM_Solver.sample(x, steps, eps=1e-4, fast_version=True)`, github baofff/U-ViT).
// Grid: K + 1 points uniform in lambda between T and eps; orders per DpmSolverOrders; fixed r1 = 1/3, r2 = 2/3 for
// third-order steps and r1 = 1/2 for second-order ones. Float32 with the official operation order.
using UViT.MLNet.Core.Runtime;
using static TorchSharp.torch;

namespace UViT.MLNet.Core.Diffusion;

/// <summary>Single-step DPM-Solver (orders 3, 2, 1) on a lambda-uniform grid with exactly <see cref="ModelEvaluations"/> model calls.</summary>
public sealed class DpmSolverFastSampler : DiffusionSampler
{
    private const double ThirdR1 = 1.0 / 3.0, ThirdR2 = 2.0 / 3.0, SecondR1 = 0.5;
    private readonly NoiseSchedule _schedule;
    private readonly int[] _orders;
    private readonly float[] _times;   // [K + 1]

    /// <summary>Model evaluations per sample (x2 batch with guidance): the official <c>steps</c>.</summary>
    public int ModelEvaluations { get; }

    /// <summary>Plans the steps.</summary>
    /// <param name="schedule">The noise schedule (the continuous VP one for the official models).</param>
    /// <param name="modelEvaluations">Model evaluations (official: 50).</param>
    /// <param name="endTime">Final time (default: the schedule's, 1e-4 for the continuous schedule).</param>
    /// <param name="startTime">Initial time (default: the schedule's T = 1).</param>
    public DpmSolverFastSampler(NoiseSchedule schedule, int modelEvaluations, double? endTime = null, double? startTime = null)
    {
        _schedule = schedule;
        ModelEvaluations = modelEvaluations;
        _orders = DpmSolverOrders.ForSteps(modelEvaluations);
        double tStart = startTime ?? schedule.T, tEnd = endTime ?? schedule.DefaultEndTime;
        if (!(tStart > tEnd) || !(tEnd > 0)) throw new ArgumentException($"Need T > end time > 0; got {tStart} and {tEnd}.");

        using var scope = NewDisposeScope();
        float lambdaT = schedule.Lambda(tensor(new[] { (float)tStart })).item<float>();
        float lambda0 = schedule.Lambda(tensor(new[] { (float)tEnd })).item<float>();
        var lambdas = linspace(lambdaT, lambda0, _orders.Length + 1, dtype: ScalarType.Float32);   // [K + 1]
        _times = schedule.InverseLambda(lambdas).data<float>().ToArray();                          // [K + 1]
    }

    /// <summary>Solver steps K.</summary>
    public override int StepCount => _orders.Length;

    /// <summary>The orders of the steps.</summary>
    public IReadOnlyList<int> Orders => _orders;

    /// <summary>The K + 1 grid times, from T to the end time.</summary>
    public IReadOnlyList<float> Times => _times;

    /// <inheritdoc/>
    protected override Tensor Step(SamplingContext context, Tensor x, int step, out Tensor? predictedX0)
    {
        var s = Batch(x, _times[step]);       // [B]
        var t = Batch(x, _times[step + 1]);   // [B]
        var noiseS = context.Model(x, _schedule.NetworkTime(s));                                                       // [B, C, H, W]
        predictedX0 = context.WantsX0 ? (x - Expand(_schedule.Sigma(s), x) * noiseS) / Expand(_schedule.Alpha(s), x) : null; // [B, C, H, W]
        return _orders[step] switch
        {
            1 => FirstOrder(x, s, t, noiseS),
            2 => SecondOrder(context.Model, x, s, t, noiseS),
            _ => ThirdOrder(context.Model, x, s, t, noiseS),
        };
    }

    // x_t = exp(log alpha_t - log alpha_s) x - sigma_t expm1(h) eps_s
    private Tensor FirstOrder(Tensor x, Tensor s, Tensor t, Tensor noiseS)
    {
        var h = _schedule.Lambda(t) - _schedule.Lambda(s);                                                            // [B]
        var phi1 = h.expm1();                                                                                         // [B]
        return Expand((_schedule.LogAlpha(t) - _schedule.LogAlpha(s)).exp(), x) * x
             - Expand(_schedule.Sigma(t) * phi1, x) * noiseS;                                                         // [B, C, H, W]
    }

    private Tensor SecondOrder(NoisePredictor model, Tensor x, Tensor s, Tensor t, Tensor noiseS)
    {
        var lambdaS = _schedule.Lambda(s);                                                                            // [B]
        var h = _schedule.Lambda(t) - lambdaS;                                                                        // [B]
        var s1 = _schedule.InverseLambda(lambdaS.Plus(h.Times(SecondR1)));                                             // [B]
        var (logAlphaS, logAlphaS1, logAlphaT) = (_schedule.LogAlpha(s), _schedule.LogAlpha(s1), _schedule.LogAlpha(t)); // [B]
        var (sigmaS1, sigmaT) = (_schedule.Sigma(s1), _schedule.Sigma(t));                                           // [B]
        var phi11 = h.Times(SecondR1).expm1();                                                                        // [B]
        var phi1 = h.expm1();                                                                                         // [B]

        var xS1 = Expand((logAlphaS1 - logAlphaS).exp(), x) * x - Expand(sigmaS1 * phi11, x) * noiseS;                // [B, C, H, W]
        var noiseS1 = model(xS1, _schedule.NetworkTime(s1));                                                          // [B, C, H, W]
        return Expand((logAlphaT - logAlphaS).exp(), x) * x
             - Expand(sigmaT * phi1, x) * noiseS
             - Expand(sigmaT * phi1, x).Times(0.5 / SecondR1) * (noiseS1 - noiseS);                                    // [B, C, H, W]
    }

    private Tensor ThirdOrder(NoisePredictor model, Tensor x, Tensor s, Tensor t, Tensor noiseS)
    {
        var lambdaS = _schedule.Lambda(s);                                                                            // [B]
        var h = _schedule.Lambda(t) - lambdaS;                                                                        // [B]
        var s1 = _schedule.InverseLambda(lambdaS.Plus(h.Times(ThirdR1)));                                               // [B]
        var s2 = _schedule.InverseLambda(lambdaS.Plus(h.Times(ThirdR2)));                                               // [B]
        var logAlphaS = _schedule.LogAlpha(s);                                                                        // [B]
        var (logAlphaS1, logAlphaS2, logAlphaT) = (_schedule.LogAlpha(s1), _schedule.LogAlpha(s2), _schedule.LogAlpha(t)); // [B]
        var (sigmaS1, sigmaS2, sigmaT) = (_schedule.Sigma(s1), _schedule.Sigma(s2), _schedule.Sigma(t));              // [B]
        var phi11 = h.Times(ThirdR1).expm1();                                                                         // [B]
        var phi12 = h.Times(ThirdR2).expm1();                                                                         // [B]
        var phi1 = h.expm1();                                                                                         // [B]
        var phi22 = (h.Times(ThirdR2).expm1() / h.Times(ThirdR2)).Minus(1.0);                                              // [B]
        var phi2 = (h.expm1() / h).Minus(1.0);                                                                       // [B]

        var xS1 = Expand((logAlphaS1 - logAlphaS).exp(), x) * x - Expand(sigmaS1 * phi11, x) * noiseS;                // [B, C, H, W]
        var noiseS1 = model(xS1, _schedule.NetworkTime(s1));                                                          // [B, C, H, W]
        var xS2 = Expand((logAlphaS2 - logAlphaS).exp(), x) * x
                - Expand(sigmaS2 * phi12, x) * noiseS
                - Expand(sigmaS2 * phi22, x).Times(ThirdR2 / ThirdR1) * (noiseS1 - noiseS);                          // [B, C, H, W]
        var noiseS2 = model(xS2, _schedule.NetworkTime(s2));                                                          // [B, C, H, W]
        return Expand((logAlphaT - logAlphaS).exp(), x) * x
             - Expand(sigmaT * phi1, x) * noiseS
             - Expand(sigmaT * phi2, x).Times(1.0 / ThirdR2) * (noiseS2 - noiseS);                                  // [B, C, H, W]
    }
}
