// The training objective of the official U-ViT code: noise prediction, `mos(eps - eps_pred)` = per-sample mean of the
// squared error over C, H, W, then the batch mean (libs/... `LSimple` in sde.py and train_ldm_discrete.py, github baofff/U-ViT).
using UViT.MLNet.Core.Diffusion;
using static TorchSharp.torch;

namespace UViT.MLNet.Core.Training;

/// <summary>A noised training batch: network time input, x_t and the noise that was added.</summary>
/// <param name="NetworkTime">[B] what the network is told (999 t, or n for the discrete schedule).</param>
/// <param name="Noisy">[B, C, H, W] x_t = alpha x0 + sigma eps.</param>
/// <param name="Noise">[B, C, H, W] eps.</param>
public sealed record NoisedBatch(Tensor NetworkTime, Tensor Noisy, Tensor Noise);

/// <summary>Draws training times and noise for one schedule and computes the noise-prediction loss.</summary>
public sealed class NoisePredictionObjective : IDisposable
{
    private readonly NoiseScheduleKind _kind;
    private readonly ContinuousVPSchedule _continuous = new();
    private readonly Tensor? _alphaBar;   // [N + 1] float64, index n = alpha_bar[n] (discrete only)
    private readonly int _steps;

    public NoisePredictionObjective(NoiseScheduleKind kind)
    {
        _kind = kind;
        if (kind == NoiseScheduleKind.DiscreteSD)
        {
            using var schedule = new DiscreteSDSchedule();
            _steps = schedule.StepCount;
            _alphaBar = tensor(Enumerable.Range(0, _steps + 1).Select(schedule.AlphaBar).ToArray());   // [N + 1]
        }
    }

    /// <summary>The schedule this objective trains.</summary>
    public NoiseScheduleKind Kind => _kind;

    /// <summary>
    /// Noises <paramref name="x0"/>: continuous t ~ U[0, 1) with x_t = sqrt(alpha_bar(t)) x0 + sqrt(1 - alpha_bar(t)) eps and
    /// network time 999 t; discrete n ~ U{1..N} with alpha_bar[n] (float64 table, cast to x0's dtype) and network time n.
    /// </summary>
    /// <param name="x0">[B, C, H, W] clean data in the model's range ([-1, 1] pixels or scaled latents).</param>
    public NoisedBatch Draw(Tensor x0, Generator? generator = null)
    {
        using var scope = NewDisposeScope();
        long b = x0.shape[0];
        Tensor networkTime, alphaBar;
        if (_kind == NoiseScheduleKind.ContinuousVP)
        {
            var t = rand(b, dtype: ScalarType.Float32, generator: generator).to(x0.device);                 // [B]
            alphaBar = _continuous.AlphaBar(t);                                                                // [B]
            networkTime = _continuous.NetworkTime(t);                                                          // [B]
        }
        else
        {
            var n = randint(1, _steps + 1, [b], dtype: ScalarType.Int64, generator: generator);               // [B]
            alphaBar = _alphaBar!.index(n).to(x0.dtype).to(x0.device);                                         // [B]
            networkTime = n.to(ScalarType.Float32).to(x0.device);                                              // [B]
        }
        var noise = randn(x0.shape, dtype: x0.dtype, generator: generator).to(x0.device);                     // [B, C, H, W]
        var shape = new long[] { b, 1, 1, 1 }[..(int)x0.dim()];
        var mean = alphaBar.to(x0.dtype).sqrt().reshape(shape) * x0;                                           // [B, C, H, W]
        var std = (1 - alphaBar.to(x0.dtype)).sqrt().reshape(shape);                                           // [B, 1, 1, 1]
        var noisy = mean + std * noise;                                                                        // [B, C, H, W]
        return new NoisedBatch(networkTime.MoveToOuterDisposeScope(), noisy.MoveToOuterDisposeScope(), noise.MoveToOuterDisposeScope());
    }

    /// <summary>mean over the batch of (mean over C, H, W of (eps - eps_pred)^2).</summary>
    /// <param name="noise">[B, C, H, W]</param>
    /// <param name="predicted">[B, C, H, W]</param>
    /// <returns>[] scalar loss</returns>
    public static Tensor Loss(Tensor noise, Tensor predicted)
    {
        using var squared = (noise - predicted).square();                               // [B, C, H, W]
        using var perSample = squared.flatten(1).mean([1]);                             // [B]
        return perSample.mean();                                                        // []
    }

    /// <summary>
    /// Classifier-free-guidance dropout: each label is replaced by <paramref name="nullClass"/> with probability <paramref name="p"/>.
    /// </summary>
    /// <param name="labels">[B] int64</param>
    /// <returns>[B] int64 (a new tensor)</returns>
    public static Tensor DropLabels(Tensor labels, long nullClass, double p, Generator? generator = null)
    {
        if (p <= 0) return labels.clone();
        using var drop = rand(labels.shape[0], generator: generator).lt(p).to(labels.device);   // [B]
        using var nulls = full_like(labels, nullClass);                                          // [B]
        return where(drop, nulls, labels);                                                       // [B]
    }

    /// <summary>Replaces each sample's text context by <paramref name="emptyContext"/> with probability <paramref name="p"/>.</summary>
    /// <param name="context">[B, T, D]</param>
    /// <param name="emptyContext">[T, D] or [1, T, D] context of the empty prompt.</param>
    /// <returns>[B, T, D] (a new tensor)</returns>
    public static Tensor DropContext(Tensor context, Tensor emptyContext, double p, Generator? generator = null)
    {
        if (p <= 0) return context.clone();
        using var scope = NewDisposeScope();
        var drop = rand(context.shape[0], generator: generator).lt(p).to(context.device).reshape(-1, 1, 1);  // [B, 1, 1]
        var empty = emptyContext.reshape(1, context.shape[1], context.shape[2]).to(context.dtype).to(context.device); // [1, T, D]
        return where(drop, empty, context).MoveToOuterDisposeScope();                                         // [B, T, D]
    }

    public void Dispose()
    {
        _alphaBar?.Dispose();
    }
}
