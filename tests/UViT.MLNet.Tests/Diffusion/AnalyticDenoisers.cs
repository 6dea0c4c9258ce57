// Exact noise predictors for data distributions with closed-form diffusion ODEs: they let sampler tests check the
// integration itself, with no network in the way.
using UViT.MLNet.Core.Diffusion;
using static TorchSharp.torch;

namespace UViT.MLNet.Tests.Diffusion;

internal static class AnalyticDenoisers
{
    /// <summary>Continuous time from the network time input: 999 t (continuous VP) or N t (discrete).</summary>
    public static Tensor TimeOf(NoiseSchedule schedule, Tensor networkTime) => schedule switch
    {
        ContinuousVPSchedule c => networkTime / c.NetworkTimeScale,
        DiscreteSDSchedule d => networkTime / (double)d.StepCount,
        _ => throw new ArgumentException("unknown schedule"),
    };

    private static Tensor Expand(Tensor v, Tensor x) => v.reshape([v.shape[0], .. Enumerable.Repeat(1L, (int)x.dim() - 1)]);

    /// <summary>Data = the single point <paramref name="c"/>: eps(x, t) = (x - alpha_t c) / sigma_t.</summary>
    public static NoisePredictor PointMass(NoiseSchedule schedule, double c) => (x, networkTime) =>
    {
        using var scope = NewDisposeScope();
        var t = TimeOf(schedule, networkTime);                                           // [B]
        return ((x - Expand(schedule.Alpha(t), x) * c) / Expand(schedule.Sigma(t), x)).MoveToOuterDisposeScope(); // [B, C, H, W]
    };

    /// <summary>ODE solution for the point mass: x_t = alpha_t c + (sigma_t / sigma_T)(x_T - alpha_T c).</summary>
    public static Tensor PointMassSolution(NoiseSchedule schedule, double c, Tensor xT, double tStart, double tEnd)
    {
        using var scope = NewDisposeScope();
        double alphaT = Value(schedule.Alpha, tStart), sigmaT = Value(schedule.Sigma, tStart);
        double alphaE = Value(schedule.Alpha, tEnd), sigmaE = Value(schedule.Sigma, tEnd);
        return (alphaE * c + (xT.to(ScalarType.Float64) - alphaT * c) * (sigmaE / sigmaT)).MoveToOuterDisposeScope();
    }

    /// <summary>Data ~ N(0, s^2 I): eps(x, t) = sigma_t x / (alpha_t^2 s^2 + sigma_t^2).</summary>
    public static NoisePredictor Gaussian(NoiseSchedule schedule, double s) => (x, networkTime) =>
    {
        using var scope = NewDisposeScope();
        var t = TimeOf(schedule, networkTime);                                                 // [B]
        var (alpha, sigma) = (schedule.Alpha(t), schedule.Sigma(t));                          // [B]
        var variance = alpha.pow(2) * (s * s) + sigma.pow(2);                                  // [B]
        return (Expand(sigma / variance, x) * x).MoveToOuterDisposeScope();                   // [B, C, H, W]
    };

    /// <summary>ODE solution for N(0, s^2 I): x_t = x_T sqrt(alpha_t^2 s^2 + sigma_t^2) / sqrt(alpha_T^2 s^2 + sigma_T^2).</summary>
    public static Tensor GaussianSolution(NoiseSchedule schedule, double s, Tensor xT, double tStart, double tEnd)
    {
        double Std(double t) => Math.Sqrt(Math.Pow(Value(schedule.Alpha, t) * s, 2) + Math.Pow(Value(schedule.Sigma, t), 2));
        return xT.to(ScalarType.Float64) * (Std(tEnd) / Std(tStart));
    }

    private static double Value(Func<Tensor, Tensor> f, double t)
    {
        using var scope = NewDisposeScope();
        return f(tensor(new[] { t })).to(ScalarType.Float64).item<double>();
    }
}

internal static class TensorAssert
{
    /// <summary>Same shape and the same bits (compared as float64 values, NaN-free data).</summary>
    public static bool BitEqual(Tensor a, Tensor b)
    {
        if (!a.shape.SequenceEqual(b.shape) || a.dtype != b.dtype) return false;
        using var same = a.eq(b).all();
        return same.item<bool>();
    }
}
