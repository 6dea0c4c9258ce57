// The continuous-time view of a variance-preserving noise schedule, q(x_t | x_0) = N(alpha_t x_0, sigma_t^2 I), as the
// DPM-Solver samplers use it (official dpm_solver_pytorch.py / libs/dpm_solver_pp.py `NoiseScheduleVP`, github baofff/U-ViT).
// Every formula is evaluated in the tensor's dtype (float32 in the official sampling code) with the official operation
// order, because the samplers' fixtures are reproduced to 1e-4 and the schedules' to 1e-6.
using UViT.MLNet.Core.Runtime;
using static TorchSharp.torch;

namespace UViT.MLNet.Core.Diffusion;

/// <summary>
/// A VP noise schedule over continuous time t in (0, <see cref="T"/>]: log alpha_t, alpha_t, sigma_t, the half log-SNR
/// lambda_t = log alpha_t - log sigma_t and its inverse, plus the time input the network was trained with.
/// </summary>
public abstract class NoiseSchedule
{
    /// <summary>The end of the forward process (1 for both official schedules).</summary>
    public virtual double T => 1.0;

    /// <summary>The sampling end time the official code uses for this schedule (1e-4 continuous, 1/1000 discrete).</summary>
    public abstract double DefaultEndTime { get; }

    /// <summary>log alpha_t (official <c>marginal_log_mean_coeff</c>).</summary>
    /// <param name="t">[B] continuous times.</param>
    /// <returns>[B]</returns>
    public abstract Tensor LogAlpha(Tensor t);

    /// <summary>t such that lambda_t = <paramref name="lambda"/>.</summary>
    /// <param name="lambda">[B] half log-SNR values.</param>
    /// <returns>[B]</returns>
    public abstract Tensor InverseLambda(Tensor lambda);

    /// <summary>The time input the network expects at continuous time t when sampling (999 t or 1000 t).</summary>
    /// <param name="t">[B] continuous times.</param>
    /// <returns>[B]</returns>
    public abstract Tensor NetworkTime(Tensor t);

    /// <summary>alpha_t = exp(log alpha_t) (official <c>marginal_alpha</c>).</summary>
    /// <returns>[B]</returns>
    public Tensor Alpha(Tensor t)
    {
        using var logAlpha = LogAlpha(t);   // [B]
        return logAlpha.exp();              // [B]
    }

    /// <summary>sigma_t = sqrt(1 - exp(2 log alpha_t)) (official <c>marginal_std</c>).</summary>
    /// <returns>[B]</returns>
    public Tensor Sigma(Tensor t)
    {
        using var scope = NewDisposeScope();
        var logAlpha = LogAlpha(t);                                      // [B]
        return logAlpha.Times(2.0).exp().SubtractedFrom(1.0).sqrt().MoveToOuterDisposeScope(); // [B]
    }

    /// <summary>lambda_t = log alpha_t - 0.5 log(1 - exp(2 log alpha_t)) (official <c>marginal_lambda</c>).</summary>
    /// <returns>[B]</returns>
    public Tensor Lambda(Tensor t)
    {
        using var scope = NewDisposeScope();
        var logAlpha = LogAlpha(t);                                      // [B]
        var logSigma = logAlpha.Times(2.0).exp().SubtractedFrom(1.0).log().Times(0.5); // [B]
        return (logAlpha - logSigma).MoveToOuterDisposeScope();          // [B]
    }

    /// <summary>
    /// log(1 + exp(-2 lambda)) = -2 log alpha at half log-SNR lambda (the official <c>logaddexp(-2 lambda, 0)</c>).
    /// </summary>
    /// <remarks>
    /// Evaluated as <c>max(a, 0) + log(1 + exp(-|a|))</c> with a = -2 lambda and a plain log(1 + u), not log1p: the
    /// official outputs (schedules fixture, inverse lambda) carry exactly this float32 rounding. A correctly rounded log1p
    /// moves t by up to 4e-7 near t = 1e-3, which the samplers then feed to the network as 1000 t.
    /// </remarks>
    /// <returns>[B]</returns>
    protected static Tensor LogOnePlusExpMinusTwoLambda(Tensor lambda)
    {
        using var scope = NewDisposeScope();
        var a = lambda.Times(-2.0);                                // [B]
        var tail = a.abs().neg().exp().Plus(1.0).log();            // [B] log(1 + exp(-|a|))
        return a.AtLeast(0.0).Plus(tail).MoveToOuterDisposeScope(); // [B]
    }
}
