// Linear VP-SDE schedule (Song et al. 2021; official sde.py `VPSDE` and dpm_solver_pytorch.py `NoiseScheduleVP('linear')`,
// github baofff/U-ViT): beta(t) = beta_0 + t (beta_1 - beta_0) with beta_0 = 0.1, beta_1 = 20. Used by the pixel models
// and the L latent models, whose network takes 999 t.
using UViT.MLNet.Core.Runtime;
using static TorchSharp.torch;

namespace UViT.MLNet.Core.Diffusion;

/// <summary>The continuous linear VP schedule: log alpha_t = -0.25 t^2 (beta_1 - beta_0) - 0.5 t beta_0.</summary>
public sealed class ContinuousVPSchedule : NoiseSchedule
{
    /// <summary>beta(0) (official <c>beta_min</c> = 0.1).</summary>
    public double Beta0 { get; }

    /// <summary>beta(1) (official <c>beta_max</c> = 20).</summary>
    public double Beta1 { get; }

    /// <summary>The factor from continuous time to the network's time input (999: the official code "follows the SDE").</summary>
    public double NetworkTimeScale { get; }

    /// <summary>Creates the schedule; the defaults are the official ones.</summary>
    public ContinuousVPSchedule(double beta0 = 0.1, double beta1 = 20, double networkTimeScale = 999)
    {
        if (!(beta0 > 0) || !(beta1 > beta0)) throw new ArgumentException($"Need 0 < beta0 < beta1; got {beta0}, {beta1}.");
        Beta0 = beta0;
        Beta1 = beta1;
        NetworkTimeScale = networkTimeScale;
    }

    /// <inheritdoc/>
    public override double DefaultEndTime => 1e-4;

    /// <inheritdoc/>
    public override Tensor LogAlpha(Tensor t)
    {
        using var scope = NewDisposeScope();
        var quadratic = t.Squared().Times(-0.25).Times(Beta1 - Beta0);    // [B]  official order: -0.25 * t**2 * (b1 - b0)
        var linear = t.Times(0.5).Times(Beta0);                          // [B]  0.5 * t * b0
        return (quadratic - linear).MoveToOuterDisposeScope(); // [B]
    }

    /// <inheritdoc/>
    /// <remarks>Closed form: with tmp = 2 (b1 - b0) log(1 + e^{-2 lambda}), t = tmp / (sqrt(b0^2 + tmp) + b0) / (b1 - b0).</remarks>
    public override Tensor InverseLambda(Tensor lambda)
    {
        using var scope = NewDisposeScope();
        var tmp = LogOnePlusExpMinusTwoLambda(lambda).Times(2.0 * (Beta1 - Beta0));       // [B]
        var delta = tmp.Plus(Beta0 * Beta0);                                        // [B]
        return (tmp / delta.sqrt().Plus(Beta0)).DividedBy(Beta1 - Beta0).MoveToOuterDisposeScope(); // [B]
    }

    /// <inheritdoc/>
    public override Tensor NetworkTime(Tensor t) => t.Times(NetworkTimeScale);    // [B]

    /// <summary>beta(t) = beta_0 + t (beta_1 - beta_0), the squared diffusion coefficient (official sde.py order).</summary>
    /// <returns>same shape as <paramref name="t"/></returns>
    public Tensor Beta(Tensor t)
    {
        using var slope = t.Times(Beta1 - Beta0);
        return slope.Plus(Beta0);
    }

    /// <summary>1 - alpha_bar_t = 1 - exp(-(beta_0 t + (beta_1 - beta_0) t^2 / 2)), computed as sde.py's <c>cum_beta</c>.</summary>
    /// <returns>same shape as <paramref name="t"/></returns>
    public Tensor NoiseVariance(Tensor t)
    {
        using var scope = NewDisposeScope();
        return AlphaBar(t).SubtractedFrom(1.0).MoveToOuterDisposeScope();
    }

    /// <summary>alpha_bar_t = exp(-(beta_0 t + (beta_1 - beta_0) t^2 / 2)), computed as sde.py's <c>cum_alpha</c>.</summary>
    /// <returns>same shape as <paramref name="t"/></returns>
    public Tensor AlphaBar(Tensor t)
    {
        using var scope = NewDisposeScope();
        var integral = t.Times(Beta0).Plus(t.Squared().Times(Beta1 - Beta0).Times(0.5));   // int_0^t beta
        return (-integral).exp().MoveToOuterDisposeScope();
    }
}
