// Streaming FID statistics: mean and covariance of features seen batch by batch, so that 50,000 samples (the paper's FID
// protocol) never have to be held at once. pytorch-fid (and U-ViT tools/fid_score.py) keep every activation in memory and
// call np.mean / np.cov; this gives the same numbers within float64 rounding.
// Numerics: sums of x and of outer products x x^T in float64, taken about a shift c (the first batch's mean), since
// cov = (sum (x-c)(x-c)^T - n (m-c)(m-c)^T) / (n-1) for any c and a shift near the mean avoids the cancellation of the naive
// sum-of-squares formula.
using UViT.MLNet.Core.Runtime;
using static TorchSharp.torch;

namespace UViT.MLNet.Core.Evaluation;

/// <summary>Accumulates feature batches [B, D] into <see cref="FeatureStatistics"/> (mean, covariance with N-1 normalisation).</summary>
public sealed class FeatureStatisticsAccumulator : IDisposable
{
    private Tensor? _shift;        // [D] float64
    private Tensor? _sum;          // [D] float64, sum of (x - shift)
    private Tensor? _sumOfOuter;   // [D, D] float64, sum of (x - shift)(x - shift)^T
    private bool _disposed;

    /// <summary>Samples seen so far.</summary>
    public long Count { get; private set; }

    /// <summary>Feature width, known after the first batch (0 before).</summary>
    public long Dimension => _shift?.shape[0] ?? 0;

    /// <summary>Adds a batch; the sums live on the batch's device (the first batch fixes device and width).</summary>
    /// <param name="features">[B, D], any float dtype.</param>
    public void Add(Tensor features)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (features.dim() != 2) throw new ArgumentException($"Expected a feature batch [B, D]; got [{string.Join(", ", features.shape)}].", nameof(features));
        if (features.shape[0] == 0) return;
        if (_shift is not null && features.shape[1] != Dimension)
            throw new ArgumentException($"Feature width changed from {Dimension} to {features.shape[1]}.", nameof(features));
        TorchRuntime.EnsureLoaded();
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var x = features.detach().to(ScalarType.Float64);                   // [B, D]
        if (_shift is null)
        {
            _shift = x.mean([0L]).DetachFromDisposeScope();                  // [D]
            _sum = zeros_like(_shift).DetachFromDisposeScope();              // [D]
            _sumOfOuter = zeros(Dimension, Dimension, ScalarType.Float64, x.device).DetachFromDisposeScope(); // [D, D]
        }
        var centred = x.to(_shift.device) - _shift;                          // [B, D]
        _sum!.PlusInPlace(centred.sum([0L]));                                // [D]
        _sumOfOuter!.addmm_(centred.T, centred);                            // [D, D] += [D, B] @ [B, D]
        Count += x.shape[0];
    }

    /// <summary>The mean and covariance (N-1 normalisation, as <c>np.cov</c>) of everything added so far.</summary>
    /// <exception cref="InvalidOperationException">Fewer than two samples were added.</exception>
    public FeatureStatistics ToStatistics()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (Count < 2) throw new InvalidOperationException($"A covariance needs at least 2 samples; {Count} were added.");
        using var scope = NewDisposeScope();
        var meanOffset = _sum!.DividedBy(Count);                              // [D] = m - c
        var mean = _shift!.Plus(meanOffset);                                 // [D]
        var covariance = (_sumOfOuter! - outer(meanOffset, meanOffset).Times(Count)).DividedBy(Count - 1); // [D, D]
        return FeatureStatistics.FromTensors(mean, covariance);
    }

    /// <summary>The running sums as mergeable <see cref="FeatureSums"/> (about this accumulator's shift).</summary>
    /// <exception cref="InvalidOperationException">Nothing was added (the width is unknown).</exception>
    public FeatureSums ToSums()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_shift is null) throw new InvalidOperationException("No features were added; the feature width is unknown.");
        return new FeatureSums(Count, ToArray(_shift), ToArray(_sum!), ToArray(_sumOfOuter!));
    }

    private static double[] ToArray(Tensor t)
    {
        using var scope = NewDisposeScope();                                 // the copies below; not t itself
        return t.detach().cpu().contiguous().data<double>().ToArray();
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _shift?.Dispose();
        _sum?.Dispose();
        _sumOfOuter?.Dispose();
    }
}
