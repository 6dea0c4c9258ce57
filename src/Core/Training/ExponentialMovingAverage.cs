// EMA of the network's parameters, kept beside the raw weights (official `ema` in train*.py: initialised as an exact
// copy, updated after every optimiser step with p_ema = rate p_ema + (1 - rate) p). Sampling and FID use the EMA weights.
using TorchSharp;
using static TorchSharp.torch;

namespace UViT.MLNet.Core.Training;

/// <summary>An exponential moving average of a module's state, stored in a second module of the same architecture.</summary>
public sealed class ExponentialMovingAverage
{
    private readonly nn.Module _source;

    /// <summary>The averaged copy (same keys as the source); use it for sampling.</summary>
    public nn.Module Average { get; }

    /// <param name="source">The module being trained.</param>
    /// <param name="average">A module of the same architecture; it is overwritten with an exact copy of <paramref name="source"/>.</param>
    public ExponentialMovingAverage(nn.Module source, nn.Module average)
    {
        _source = source;
        Average = average;
        Average.eval();
        CopyFromSource();
    }

    /// <summary>Makes the average an exact copy of the source (the official initialisation).</summary>
    public void CopyFromSource()
    {
        using var noGrad = no_grad();
        var target = Average.state_dict();
        foreach (var (key, value) in _source.state_dict()) target[key].copy_(value);
    }

    /// <summary>The usual warm-up offset k in min(rate, (1 + n) / (k + n)).</summary>
    public const double DefaultWarmupOffset = 10;

    /// <summary>
    /// The rate used at optimiser step <paramref name="step"/> (1-based): the recipe's rate, or with warm-up
    /// min(rate, (1 + n) / (k + n)) for the offset k = <paramref name="warmupOffset"/>, null = <see cref="DefaultWarmupOffset"/>
    /// (the average spans about the last n / (k - 1) steps).
    /// </summary>
    public static double RateAt(long step, double rate, bool warmup, double? warmupOffset = null) =>
        warmup ? Math.Min(rate, (1.0 + step) / ((warmupOffset ?? DefaultWarmupOffset) + step)) : rate;

    /// <summary>p_ema = rate p_ema + (1 - rate) p for every parameter (buffers are copied).</summary>
    public void Update(double rate)
    {
        using var noGrad = no_grad();
        var target = Average.state_dict();
        var parameters = _source.named_parameters().Select(p => p.name).ToHashSet();
        using var keep = rate.ToScalar();
        using var blend = (1 - rate).ToScalar();
        foreach (var (key, value) in _source.state_dict())
        {
            var average = target[key];
            if (parameters.Contains(key)) average.mul_(keep).add_(value, blend);
            else average.copy_(value);
        }
    }
}
