// Mergeable FID sufficient statistics: count, sum and sum of outer products of features, in float64, so that shards of a
// large sample set (computed by separate processes) add up to the statistics of the whole set. The sums are taken about a
// shift c (the shard's first-batch mean, as FeatureStatisticsAccumulator does) to avoid the cancellation of the naive
// sum-of-squares formula; a zero shift gives the plain sums. Merging moves every shard to one shift exactly:
// with d = c - c*,  sum(x - c*) = S + n d  and  sum (x - c*)(x - c*)^T = M + d S^T + S d^T + n d d^T.
namespace UViT.MLNet.Core.Evaluation;

/// <summary>Count, shift c [D], S = sum (x - c) [D] and M = sum (x - c)(x - c)^T [D, D] of a feature set, float64.</summary>
public sealed class FeatureSums
{
    /// <summary>Wraps the arrays (not copied); <paramref name="sumOfOuter"/> is row-major D x D.</summary>
    /// <exception cref="ArgumentException">Lengths that do not fit one D, or a negative count.</exception>
    public FeatureSums(long count, double[] shift, double[] sum, double[] sumOfOuter)
    {
        ArgumentNullException.ThrowIfNull(shift);
        ArgumentNullException.ThrowIfNull(sum);
        ArgumentNullException.ThrowIfNull(sumOfOuter);
        if (count < 0) throw new ArgumentException($"A sample count cannot be negative; got {count}.", nameof(count));
        if (shift.Length == 0 || sum.Length != shift.Length || sumOfOuter.Length != (long)shift.Length * shift.Length)
            throw new ArgumentException($"Expected shift [D], sum [D] and sum of outer products [D, D]; got lengths {shift.Length}, {sum.Length}, {sumOfOuter.Length}.");
        Count = count;
        Shift = shift;
        Sum = sum;
        SumOfOuter = sumOfOuter;
    }

    /// <summary>Samples summed.</summary>
    public long Count { get; }

    /// <summary>Feature width D.</summary>
    public int Dimension => Shift.Length;

    /// <summary>c, the point the sums are taken about.</summary>
    public double[] Shift { get; }

    /// <summary>S = sum of (x - c).</summary>
    public double[] Sum { get; }

    /// <summary>M = sum of (x - c)(x - c)^T, row-major.</summary>
    public double[] SumOfOuter { get; }

    /// <summary>The sums of no samples (D-dimensional), e.g. for a shard that owns no rows.</summary>
    public static FeatureSums Empty(int dimension) => new(0, new double[dimension], new double[dimension], new double[(long)dimension * dimension]);

    /// <summary>
    /// The sums of the union of the parts' samples (each sample counted once per part it is in), about the first non-empty
    /// part's shift. The result does not depend on the order of the parts beyond float64 rounding.
    /// </summary>
    /// <exception cref="ArgumentException">No parts, or parts of different widths.</exception>
    public static FeatureSums Merge(IReadOnlyList<FeatureSums> parts)
    {
        ArgumentNullException.ThrowIfNull(parts);
        if (parts.Count == 0) throw new ArgumentException("Nothing to merge.", nameof(parts));
        int dim = parts[0].Dimension;
        if (parts.FirstOrDefault(p => p.Dimension != dim) is { } other)
            throw new ArgumentException($"Cannot merge {dim}-d and {other.Dimension}-d feature sums (different feature extractors?).", nameof(parts));
        var target = (double[])(parts.FirstOrDefault(p => p.Count > 0) ?? parts[0]).Shift.Clone();
        var sum = new double[dim];
        var outer = new double[(long)dim * dim];
        var d = new double[dim];
        long count = 0;
        foreach (var part in parts.Where(p => p.Count > 0))
        {
            long n = part.Count;
            for (int i = 0; i < dim; i++) d[i] = part.Shift[i] - target[i];
            for (int i = 0; i < dim; i++) sum[i] += part.Sum[i] + n * d[i];
            for (int i = 0; i < dim; i++)
            {
                long row = (long)i * dim;
                double di = d[i], si = part.Sum[i];
                for (int j = 0; j < dim; j++)
                    outer[row + j] += part.SumOfOuter[row + j] + di * part.Sum[j] + si * d[j] + n * di * d[j];
            }
            count += n;
        }
        return new FeatureSums(count, target, sum, outer);
    }

    /// <summary>Mean and covariance (N-1 normalisation, as <c>np.cov</c>) of the summed samples.</summary>
    /// <exception cref="InvalidOperationException">Fewer than two samples.</exception>
    public FeatureStatistics ToStatistics()
    {
        if (Count < 2) throw new InvalidOperationException($"A covariance needs at least 2 samples; the sums hold {Count}.");
        int dim = Dimension;
        var offset = new double[dim];                                        // m - c
        var mean = new double[dim];
        for (int i = 0; i < dim; i++) { offset[i] = Sum[i] / Count; mean[i] = Shift[i] + offset[i]; }
        var covariance = new double[(long)dim * dim];
        for (int i = 0; i < dim; i++)
        {
            long row = (long)i * dim;
            for (int j = 0; j < dim; j++) covariance[row + j] = (SumOfOuter[row + j] - Count * offset[i] * offset[j]) / (Count - 1);
        }
        return new FeatureStatistics(mean, covariance);
    }
}
