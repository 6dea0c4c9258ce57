// DPM-Solver++ (Lu et al. 2022, "DPM-Solver++: Fast Solver for Guided Sampling of Diffusion Probabilistic Models"),
// single-step, data prediction, as the official U-ViT discrete models sample (libs/dpm_solver_pp.py
// `DPM_Solver(predict_x0=True).sample(x, steps, eps=1/N, T=1)`, github baofff/U-ViT; no thresholding).
// Grid: time-uniform, steps + 1 points from T to eps; a step of order k spans k grid intervals, and its intermediate points
// s1, s2 sit at the lambdas of the re-spaced interior points (r1, r2 = their fractions of the step in lambda).
// Every formula is float32 with the official operation order; scalars r1, r2 are float32 as in the official code.
using UViT.MLNet.Core.Runtime;
using static TorchSharp.torch;

namespace UViT.MLNet.Core.Diffusion;

/// <summary>Single-step DPM-Solver++ (orders 3, 2, 1) with exactly <see cref="ModelEvaluations"/> model calls.</summary>
public sealed class DpmSolverPlusPlusSampler : DiffusionSampler
{
    private readonly NoiseSchedule _schedule;
    private readonly (float S, float T, int Order, float R1, float R2)[] _steps;

    /// <summary>Model evaluations per sample (x2 batch with guidance): the <c>steps</c> the official code is given.</summary>
    public int ModelEvaluations { get; }

    /// <summary>Plans the steps.</summary>
    /// <param name="schedule">The noise schedule (the discrete SD one for the official models).</param>
    /// <param name="modelEvaluations">Model evaluations (official: 50).</param>
    /// <param name="endTime">Final time (default: the schedule's, 1/N for the discrete schedule).</param>
    /// <param name="startTime">Initial time (default: the schedule's T = 1).</param>
    public DpmSolverPlusPlusSampler(NoiseSchedule schedule, int modelEvaluations, double? endTime = null, double? startTime = null)
    {
        _schedule = schedule;
        ModelEvaluations = modelEvaluations;
        int[] orders = DpmSolverOrders.ForSteps(modelEvaluations);
        double tStart = startTime ?? schedule.T, tEnd = endTime ?? schedule.DefaultEndTime;
        if (!(tStart > tEnd) || !(tEnd > 0)) throw new ArgumentException($"Need T > end time > 0; got {tStart} and {tEnd}.");

        using var scope = NewDisposeScope();
        float[] grid = linspace(tStart, tEnd, modelEvaluations + 1, dtype: ScalarType.Float32).data<float>().ToArray(); // [steps + 1]
        _steps = new (float, float, int, float, float)[orders.Length];
        int at = 0;
        for (int i = 0; i < orders.Length; i++)
        {
            int order = orders[i];
            float s = grid[at], t = grid[at + order];
            at += order;
            float r1 = 0, r2 = 0;
            if (order > 1)
            {
                var inner = linspace(s, t, order + 1, dtype: ScalarType.Float32);            // [order + 1] re-spaced as officially
                float[] lambdas = schedule.Lambda(inner).data<float>().ToArray();          // [order + 1]
                float h = lambdas[order] - lambdas[0];
                r1 = (lambdas[1] - lambdas[0]) / h;
                if (order > 2) r2 = (lambdas[2] - lambdas[0]) / h;
            }
            _steps[i] = (s, t, order, r1, r2);
        }
    }

    /// <summary>Solver steps (the order schedule's length).</summary>
    public override int StepCount => _steps.Length;

    /// <summary>The orders of the steps, e.g. [3, 3, ..., 3, 2] for 50 evaluations.</summary>
    public IReadOnlyList<int> Orders => _steps.Select(s => s.Order).ToArray();

    /// <inheritdoc/>
    protected override Tensor Step(SamplingContext context, Tensor x, int step, out Tensor? predictedX0)
    {
        var (s, t, order, r1, r2) = _steps[step];
        var vecS = Batch(x, s);   // [B]
        var vecT = Batch(x, t);   // [B]
        var model = DataPrediction(context.Model, x, vecS);                                                  // [B, C, H, W]
        predictedX0 = model;
        return order switch
        {
            1 => FirstOrder(x, vecS, vecT, model),
            2 => SecondOrder(context.Model, x, vecS, vecT, r1, model),
            _ => ThirdOrder(context.Model, x, vecS, vecT, r1, r2, model),
        };
    }

    // x0 = (x - sigma_t eps) / alpha_t (official `data_prediction_fn`, no thresholding).
    private Tensor DataPrediction(NoisePredictor model, Tensor x, Tensor t)
    {
        var eps = model(x, _schedule.NetworkTime(t));                                                      // [B, C, H, W]
        return (x - Expand(_schedule.Sigma(t), x) * eps) / Expand(_schedule.Alpha(t), x);                 // [B, C, H, W]
    }

    // x_t = (sigma_t / sigma_s) x - alpha_t expm1(-h) x0_s
    private Tensor FirstOrder(Tensor x, Tensor s, Tensor t, Tensor modelS)
    {
        var h = _schedule.Lambda(t) - _schedule.Lambda(s);                                                 // [B]
        var phi1 = (-h).expm1();                                                                           // [B]
        var alphaT = _schedule.Alpha(t);                                                                   // [B]
        return Expand(_schedule.Sigma(t) / _schedule.Sigma(s), x) * x - Expand(alphaT * phi1, x) * modelS; // [B, C, H, W]
    }

    private Tensor SecondOrder(NoisePredictor model, Tensor x, Tensor s, Tensor t, float r1, Tensor modelS)
    {
        var lambdaS = _schedule.Lambda(s);                                                                 // [B]
        var h = _schedule.Lambda(t) - lambdaS;                                                             // [B]
        var s1 = _schedule.InverseLambda(lambdaS.Plus(h.Times(r1)));                                       // [B]
        var sigmaS = _schedule.Sigma(s);                                                                   // [B]
        var (alphaS1, sigmaS1) = (_schedule.Alpha(s1), _schedule.Sigma(s1));                               // [B]
        var (alphaT, sigmaT) = (_schedule.Alpha(t), _schedule.Sigma(t));                                   // [B]
        var phi11 = h.Times(-r1).expm1();                                                                  // [B]
        var phi1 = (-h).expm1();                                                                           // [B]

        var xS1 = Expand(sigmaS1 / sigmaS, x) * x - Expand(alphaS1 * phi11, x) * modelS;                   // [B, C, H, W]
        var modelS1 = DataPrediction(model, xS1, s1);                                                      // [B, C, H, W]
        return Expand(sigmaT / sigmaS, x) * x
             - Expand(alphaT * phi1, x) * modelS
             - Expand(alphaT * phi1, x).Times((1f / r1) * 0.5f) * (modelS1 - modelS);                   // [B, C, H, W]
    }

    private Tensor ThirdOrder(NoisePredictor model, Tensor x, Tensor s, Tensor t, float r1, float r2, Tensor modelS)
    {
        var lambdaS = _schedule.Lambda(s);                                                                 // [B]
        var h = _schedule.Lambda(t) - lambdaS;                                                             // [B]
        var s1 = _schedule.InverseLambda(lambdaS.Plus(h.Times(r1)));                                       // [B]
        var s2 = _schedule.InverseLambda(lambdaS.Plus(h.Times(r2)));                                              // [B]
        var sigmaS = _schedule.Sigma(s);                                                                   // [B]
        var (alphaS1, sigmaS1) = (_schedule.Alpha(s1), _schedule.Sigma(s1));                               // [B]
        var (alphaS2, sigmaS2) = (_schedule.Alpha(s2), _schedule.Sigma(s2));                               // [B]
        var (alphaT, sigmaT) = (_schedule.Alpha(t), _schedule.Sigma(t));                                   // [B]
        var phi11 = h.Times(-r1).expm1();                                                                  // [B]
        var phi12 = h.Times(-r2).expm1();                                                                    // [B]
        var phi1 = (-h).expm1();                                                                           // [B]
        var phi22 = (h.Times(-r2).expm1() / h.Times(r2)).Plus(1.0);                                              // [B]
        var phi2 = (phi1 / h).Plus(1.0);                                                                  // [B]

        var xS1 = Expand(sigmaS1 / sigmaS, x) * x - Expand(alphaS1 * phi11, x) * modelS;                   // [B, C, H, W]
        var modelS1 = DataPrediction(model, xS1, s1);                                                      // [B, C, H, W]
        var xS2 = (Expand(sigmaS2 / sigmaS, x) * x
                - Expand(alphaS2 * phi12, x) * modelS)
                .Plus(Expand(alphaS2 * phi22, x).Times(r2 / r1) * (modelS1 - modelS));                    // [B, C, H, W]
        var modelS2 = DataPrediction(model, xS2, s2);                                                      // [B, C, H, W]
        return (Expand(sigmaT / sigmaS, x) * x
             - Expand(alphaT * phi1, x) * modelS)
             .Plus(Expand(alphaT * phi2, x).Times(1f / r2) * (modelS2 - modelS));                         // [B, C, H, W]
    }
}
