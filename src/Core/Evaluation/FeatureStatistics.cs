// The Gaussian summary of a feature set that FID compares: mean and covariance, in float64.
// Provenance: pytorch-fid fid_score.py `calculate_activation_statistics` (`np.mean(act, axis=0)`,
// `np.cov(act, rowvar=False)`, i.e. N-1 normalisation); U-ViT tools/fid_score.py is a copy.
using UViT.MLNet.Core.Runtime;
using static TorchSharp.torch;

namespace UViT.MLNet.Core.Evaluation;

/// <summary>
/// Mean <c>mu</c> [D] and covariance <c>sigma</c> [D, D] of D-dimensional features, as float64 managed arrays so that they
/// outlive any tensor scope and can be written to the official <c>.npz</c> format (<see cref="FidStatisticsFile"/>).
/// </summary>
public sealed class FeatureStatistics
{
    /// <summary>Feature width D.</summary>
    public int Dimension { get; }

    /// <summary>mu, length D.</summary>
    public double[] Mean { get; }

    /// <summary>sigma, row-major D x D (length D*D).</summary>
    public double[] Covariance { get; }

    /// <summary>Wraps a mean and a row-major covariance (not copied).</summary>
    /// <exception cref="ArgumentException">The lengths do not fit D and D*D.</exception>
    public FeatureStatistics(double[] mean, double[] covariance)
    {
        ArgumentNullException.ThrowIfNull(mean);
        ArgumentNullException.ThrowIfNull(covariance);
        if (mean.Length == 0) throw new ArgumentException("The mean is empty.", nameof(mean));
        if (covariance.Length != (long)mean.Length * mean.Length)
            throw new ArgumentException($"A {mean.Length}-d mean needs a {mean.Length}x{mean.Length} covariance ({(long)mean.Length * mean.Length} values); got {covariance.Length}.", nameof(covariance));
        Dimension = mean.Length;
        Mean = mean;
        Covariance = covariance;
    }

    /// <summary>
    /// Two-pass statistics of a whole feature matrix: mean, then the covariance of the centred rows with N-1 normalisation
    /// (<c>np.cov(rowvar=False)</c>). For feature sets too large to hold at once use <see cref="FeatureStatisticsAccumulator"/>.
    /// </summary>
    /// <param name="features">[N, D] with N &gt;= 2, any float dtype and device.</param>
    public static FeatureStatistics FromFeatures(Tensor features)
    {
        TorchRuntime.EnsureLoaded();
        if (features.dim() != 2 || features.shape[0] < 2)
            throw new ArgumentException($"Expected features [N, D] with N >= 2; got [{string.Join(", ", features.shape)}].", nameof(features));
        using var scope = NewDisposeScope();
        var x = features.to(ScalarType.Float64);                             // [N, D]
        var mean = x.mean([0L]);                                             // [D]
        var centred = x - mean;                                              // [N, D]
        var covariance = centred.T.matmul(centred).DividedBy(x.shape[0] - 1); // [D, D]
        return FromTensors(mean, covariance);
    }

    /// <summary>Copies mu [D] and sigma [D, D] tensors (any float dtype, any device) into managed float64 arrays.</summary>
    public static FeatureStatistics FromTensors(Tensor mean, Tensor covariance)
    {
        if (mean.dim() != 1 || covariance.dim() != 2 || covariance.shape[0] != mean.shape[0] || covariance.shape[1] != mean.shape[0])
            throw new ArgumentException($"Expected mu [D] and sigma [D, D]; got [{string.Join(", ", mean.shape)}] and [{string.Join(", ", covariance.shape)}].");
        using var mu = mean.detach().to(ScalarType.Float64).cpu().contiguous();          // [D]
        using var sigma = covariance.detach().to(ScalarType.Float64).cpu().contiguous(); // [D, D]
        return new FeatureStatistics(mu.data<double>().ToArray(), sigma.data<double>().ToArray());
    }

    /// <summary>mu as a new float64 tensor [D] (the caller disposes it).</summary>
    public Tensor MeanTensor(Device? device = null) => tensor(Mean, [Dimension], ScalarType.Float64, device);

    /// <summary>sigma as a new float64 tensor [D, D] (the caller disposes it).</summary>
    public Tensor CovarianceTensor(Device? device = null) => tensor(Covariance, [Dimension, Dimension], ScalarType.Float64, device);
}
