// The Frechet distance between two Gaussians, d^2 = |mu1 - mu2|^2 + Tr(s1 + s2 - 2 (s1 s2)^(1/2)): the FID formula.
// Provenance: pytorch-fid fid_score.py `calculate_frechet_distance` (U-ViT tools/fid_score.py is a copy), after
// Dowson & Landau (1982). Deviation, on purpose: pytorch-fid takes scipy.linalg.sqrtm of the non-symmetric product s1 s2
// (Schur method, complex arithmetic), discards a negligible imaginary part, and retries with eps*I added to both covariances
// when that square root is not finite. Only the trace of the square root enters the formula, and for covariance matrices
// Tr((s1 s2)^(1/2)) = Tr((s1^(1/2) s2 s1^(1/2))^(1/2)) = sum_i sqrt(lambda_i), the eigenvalues of a symmetric PSD matrix.
// Symmetric eigendecompositions are backward stable and never produce complex or non-finite values from finite input,
// so no eps retry is needed; singular covariances (fewer samples than dimensions) are handled exactly.
using UViT.MLNet.Core.Runtime;
using static TorchSharp.torch;

namespace UViT.MLNet.Core.Evaluation;

/// <summary>FID from two sets of Gaussian statistics, in float64.</summary>
public static class FrechetDistance
{
    /// <summary>
    /// Eigenvalues this far below zero are rounding in a PSD matrix and are clamped to 0; more negative ones mean the input is
    /// not a covariance matrix. The absolute part, 1e-6, is pytorch-fid's 1e-3 tolerance on the imaginary part of the square
    /// root's diagonal, squared; the relative part scales it with the largest eigenvalue.
    /// </summary>
    public const double NegativeEigenvalueTolerance = 1e-6;

    /// <summary>FID between two feature distributions' statistics (same dimension).</summary>
    public static double Compute(FeatureStatistics first, FeatureStatistics second)
    {
        ArgumentNullException.ThrowIfNull(first);
        ArgumentNullException.ThrowIfNull(second);
        if (first.Dimension != second.Dimension)
            throw new ArgumentException($"The statistics have different dimensions: {first.Dimension} and {second.Dimension}. " +
                                        "FID reference statistics for Inception pool3 are 2048-d.");
        TorchRuntime.EnsureLoaded();
        using var scope = NewDisposeScope();
        return Compute(first.MeanTensor(), first.CovarianceTensor(), second.MeanTensor(), second.CovarianceTensor());
    }

    /// <summary>FID from mu1, sigma1, mu2, sigma2 tensors (computed in float64 whatever their dtype).</summary>
    /// <param name="mu1">[D]</param>
    /// <param name="sigma1">[D, D], symmetric positive semi-definite</param>
    /// <param name="mu2">[D]</param>
    /// <param name="sigma2">[D, D], symmetric positive semi-definite</param>
    /// <exception cref="ArgumentException">Shapes disagree, values are not finite, or a covariance is clearly not PSD.</exception>
    public static double Compute(Tensor mu1, Tensor sigma1, Tensor mu2, Tensor sigma2)
    {
        TorchRuntime.EnsureLoaded();
        long d = mu1.shape.Length == 1 ? mu1.shape[0] : -1;
        foreach (var (t, name, rank) in new[] { (mu1, "mu1", 1), (sigma1, "sigma1", 2), (mu2, "mu2", 1), (sigma2, "sigma2", 2) })
        {
            if (t.dim() != rank || t.shape.Any(s => s != d))
                throw new ArgumentException($"Expected mu [D] and sigma [D, D] with one D; {name} is [{string.Join(", ", t.shape)}] (D = {d}).");
        }

        using var scope = NewDisposeScope();
        var m1 = mu1.to(ScalarType.Float64);                                 // [D]
        var m2 = mu2.to(ScalarType.Float64);                                 // [D]
        var s1 = Symmetrised(sigma1.to(ScalarType.Float64));                 // [D, D]
        var s2 = Symmetrised(sigma2.to(ScalarType.Float64));                 // [D, D]
        foreach (var (t, name) in new[] { (m1, "mu1"), (s1, "sigma1"), (m2, "mu2"), (s2, "sigma2") })
        {
            if (!isfinite(t).all().item<bool>()) throw new ArgumentException($"{name} contains NaN or infinite values.");
        }

        var diff = m1 - m2;                                                  // [D]
        double meanTerm = diff.dot(diff).item<double>();
        double traceTerm = s1.trace().Plus(s2.trace()).item<double>();
        double traceSqrt = TraceOfProductSquareRoot(s1, s2);
        return meanTerm + traceTerm - 2 * traceSqrt;
    }

    /// <summary>Tr((s1 s2)^(1/2)) as sum sqrt(eig(s1^(1/2) s2 s1^(1/2))), both covariances symmetric float64.</summary>
    /// <param name="s1">[D, D]</param>
    /// <param name="s2">[D, D]</param>
    internal static double TraceOfProductSquareRoot(Tensor s1, Tensor s2)
    {
        using var scope = NewDisposeScope();
        var (w1, v1) = linalg.eigh(s1);                                      // [D], [D, D] (columns = eigenvectors)
        w1 = ClampRounding(w1, "sigma1");                                    // [D] >= 0
        var root1 = (v1 * w1.sqrt()).matmul(v1.T);                           // [D, D] = V diag(sqrt w) V^T
        var inner = Symmetrised(root1.matmul(s2).matmul(root1));             // [D, D] symmetric PSD, same eigenvalues as s1 s2
        var w = ClampRounding(linalg.eigvalsh(inner), "sigma1^(1/2) sigma2 sigma1^(1/2) (is sigma2 a covariance?)"); // [D]
        return w.sqrt().sum().item<double>();
    }

    // Rounding makes the zero eigenvalues of singular PSD matrices come out as tiny negatives; anything clearly negative is an input error.
    private static Tensor ClampRounding(Tensor eigenvalues, string what)
    {
        double largest = Math.Max(eigenvalues.abs().max().item<double>(), 0);
        double smallest = eigenvalues.min().item<double>();
        double tolerance = Math.Max(NegativeEigenvalueTolerance, 1e-9 * largest);
        if (smallest < -tolerance)
            throw new ArgumentException($"{what} has eigenvalue {smallest:G6} < 0 (largest {largest:G6}): not a covariance matrix " +
                                        "(symmetric positive semi-definite). Were mu and sigma swapped, or the file corrupted?");
        return eigenvalues.AtLeast(0);
    }

    private static Tensor Symmetrised(Tensor m) => m.Plus(m.T).DividedBy(2);   // [D, D]
}
