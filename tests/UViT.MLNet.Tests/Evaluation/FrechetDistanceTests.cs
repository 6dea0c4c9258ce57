// FID of the fixture cases (pytorch-fid's calculate_frechet_distance with scipy sqrtm) to the README's relative tolerance,
// both from the stored statistics and from statistics we compute from the stored samples.
using UViT.MLNet.Core.Evaluation;
using static TorchSharp.torch;

namespace UViT.MLNet.Tests.Evaluation;

[TestClass]
public sealed class FrechetDistanceTests
{
    public static IEnumerable<object[]> Cases() => FidFixtures.FrechetCases();

    [TestMethod]
    public void FixtureHasFrechetCases() => Assert.IsGreaterThanOrEqualTo(1, Cases().Count());

    [TestMethod]
    [DynamicData(nameof(Cases))]
    public void MatchesPytorchFidFromStatistics(string name)
    {
        using var scope = NewDisposeScope();
        var t = FidFixtures.Tensors("frechet.safetensors");
        double expected = t[name + "_fid"].item<double>();
        double actual = FrechetDistance.Compute(t[name + "_mu1"], t[name + "_sigma1"], t[name + "_mu2"], t[name + "_sigma2"]);
        double relative = Math.Abs(actual - expected) / Math.Abs(expected);
        Console.WriteLine($"{name}: fid {actual:R} vs {expected:R}, relative {relative:E2}");
        Assert.IsLessThanOrEqualTo(FidFixtures.Tolerances.FidRelative, relative, $"{name}: {actual:R} vs {expected:R}");
    }

    [TestMethod]
    [DynamicData(nameof(Cases))]
    public void MatchesPytorchFidFromSamples(string name)
    {
        using var scope = NewDisposeScope();
        var t = FidFixtures.Tensors("frechet.safetensors");
        var first = FeatureStatistics.FromFeatures(t[name + "_features1"]);
        var second = FeatureStatistics.FromTensors(t[name + "_mu2"], t[name + "_sigma2"]);
        Assert.IsLessThanOrEqualTo(1e-12, Support.Fixtures.MaxAbsDiff(first.MeanTensor(), t[name + "_mu1"]), "mean (np.mean)");
        Assert.IsLessThanOrEqualTo(1e-12, Support.Fixtures.MaxAbsDiff(first.CovarianceTensor(), t[name + "_sigma1"]), "covariance (np.cov, rowvar=False)");
        double expected = t[name + "_fid"].item<double>();
        double actual = FrechetDistance.Compute(first, second);
        Assert.IsLessThanOrEqualTo(FidFixtures.Tolerances.FidRelative, Math.Abs(actual - expected) / Math.Abs(expected), $"{name}: {actual:R} vs {expected:R}");
    }

    [TestMethod]
    [DynamicData(nameof(Cases))]
    public void IsZeroForIdenticalAndSymmetricInItsArguments(string name)
    {
        using var scope = NewDisposeScope();
        var t = FidFixtures.Tensors("frechet.safetensors");
        var a = FeatureStatistics.FromTensors(t[name + "_mu1"], t[name + "_sigma1"]);
        var b = FeatureStatistics.FromTensors(t[name + "_mu2"], t[name + "_sigma2"]);
        double trace = Enumerable.Range(0, a.Dimension).Sum(i => a.Covariance[i * a.Dimension + i]);
        Assert.IsLessThanOrEqualTo(1e-9 * trace, Math.Abs(FrechetDistance.Compute(a, a)));
        double ab = FrechetDistance.Compute(a, b), ba = FrechetDistance.Compute(b, a);
        Assert.IsLessThanOrEqualTo(1e-9, Math.Abs(ab - ba) / ab);
    }

    [TestMethod]
    public void SingularCovariancesNeedNoEpsilon()
    {
        // 5 samples in 16 dimensions: rank-4 covariances, where scipy's sqrtm may fail and pytorch-fid adds eps*I.
        using var scope = NewDisposeScope();
        var x = randn([5, 16], ScalarType.Float64, generator: new TorchSharp.torch.Generator(1));
        var y = randn([5, 16], ScalarType.Float64, generator: new TorchSharp.torch.Generator(2)) + 0.5;
        var a = FeatureStatistics.FromFeatures(x);
        var b = FeatureStatistics.FromFeatures(y);
        double fid = FrechetDistance.Compute(a, b);
        Assert.IsTrue(double.IsFinite(fid) && fid > 0, $"fid = {fid}");
        // Identical singular statistics are at distance ~0 (sqrt of rounding-level eigenvalues is ~1e-8 each).
        Assert.IsLessThanOrEqualTo(1e-6, Math.Abs(FrechetDistance.Compute(a, a)));
    }

    [TestMethod]
    public void RejectsMismatchedNonFiniteOrNonCovarianceInput()
    {
        using var scope = NewDisposeScope();
        var mu = zeros(4, ScalarType.Float64);
        var eye4 = eye(4, dtype: ScalarType.Float64);
        Assert.ThrowsExactly<ArgumentException>(() => FrechetDistance.Compute(mu, eye4, zeros(3, ScalarType.Float64), eye(3, dtype: ScalarType.Float64)));
        Assert.ThrowsExactly<ArgumentException>(() => FrechetDistance.Compute(mu, eye4 * double.NaN, mu, eye4));
        var error = Assert.ThrowsExactly<ArgumentException>(() => FrechetDistance.Compute(mu, eye4, mu, -eye4));
        StringAssert.Contains(error.Message, "not a covariance");
        Assert.ThrowsExactly<ArgumentException>(() => FrechetDistance.Compute(
            new FeatureStatistics(new double[2], new double[4]), new FeatureStatistics(new double[3], new double[9])));
    }
}
