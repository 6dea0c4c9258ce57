// Mergeable FID sums: the sums of any split of a feature set, merged, give the mean and covariance of the whole set
// (two-pass np.mean / np.cov) to 1e-9 relative, whatever each part's shift; files round-trip; wrong inputs are refused.
using UViT.MLNet.Core.Evaluation;
using static TorchSharp.torch;

namespace UViT.MLNet.Tests.Sharding;

[TestClass]
public sealed class FeatureSumsTests
{
    public TestContext TestContext { get; set; } = null!;

    [TestMethod]
    public void MergedPartsGiveTheStatisticsOfTheWhole()
    {
        using var scope = NewDisposeScope();
        var generator = new TorchSharp.torch.Generator(7);
        var features = (randn([23, 16], ScalarType.Float32, generator: generator) * 0.2 + 3.0).to(ScalarType.Float32);  // far from 0: tests the shifts
        var whole = FeatureStatistics.FromFeatures(features);
        int[] sizes = [1, 0, 10, 12];                                                            // an empty and a one-sample part too
        var parts = new List<FeatureSums>();
        long start = 0;
        foreach (int size in sizes)
        {
            if (size == 0) { parts.Add(FeatureSums.Empty(16)); continue; }
            using var accumulator = new FeatureStatisticsAccumulator();
            accumulator.Add(features.narrow(0, start, size));
            parts.Add(accumulator.ToSums());
            start += size;
        }
        var merged = FeatureSums.Merge(parts);
        Assert.AreEqual(23L, merged.Count);
        AssertClose(whole, merged.ToStatistics(), 1e-9);
        parts.Reverse();
        AssertClose(whole, FeatureSums.Merge(parts).ToStatistics(), 1e-9);
        Assert.IsGreaterThan(1e-6, MaxRelative(whole.Covariance, FeatureSums.Merge(parts.Take(2).ToList()).ToStatistics().Covariance),
                             "a merge missing a part must differ (the check can fail)");
    }

    [TestMethod]
    public void FileRoundTripsAndRefusesMuSigmaFiles()
    {
        string folder = Path.Combine(TestContext.TestRunDirectory ?? Path.GetTempPath(), Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        var sums = new FeatureSums(5, [1, 2], [0.5, -0.25], [1, 2, 3, 4]);
        string path = Path.Combine(folder, "shard.npz");
        FeatureSumsFile.Write(path, sums, 1, 3);
        var (read, k, n) = FeatureSumsFile.Read(path);
        Assert.AreEqual((1, 3), (k, n));
        Assert.AreEqual(5L, read.Count);
        CollectionAssert.AreEqual(sums.Shift, read.Shift);
        CollectionAssert.AreEqual(sums.Sum, read.Sum);
        CollectionAssert.AreEqual(sums.SumOfOuter, read.SumOfOuter);
        string stats = Path.Combine(folder, "stats.npz");
        FidStatisticsFile.Write(stats, new FeatureStatistics([1, 2], [1, 0, 0, 1]));
        StringAssert.Contains(Assert.ThrowsExactly<InvalidDataException>(() => FeatureSumsFile.Read(stats)).Message, "cannot be merged");
        Assert.ThrowsExactly<ArgumentException>(() => FeatureSums.Merge([sums, FeatureSums.Empty(3)]));
        Assert.ThrowsExactly<InvalidOperationException>(() => FeatureSums.Empty(2).ToStatistics());
    }

    /// <summary>max |a - b| / max |a|: relative to the array's scale (entries near zero would make an element-wise ratio meaningless).</summary>
    internal static double MaxRelative(double[] expected, double[] actual)
    {
        Assert.HasCount(expected.Length, actual);
        double scale = expected.Max(Math.Abs), diff = expected.Zip(actual, (a, b) => Math.Abs(a - b)).Max();
        return diff / scale;
    }

    internal static void AssertClose(FeatureStatistics expected, FeatureStatistics actual, double tolerance)
    {
        Assert.IsLessThanOrEqualTo(tolerance, MaxRelative(expected.Mean, actual.Mean), "mu");
        Assert.IsLessThanOrEqualTo(tolerance, MaxRelative(expected.Covariance, actual.Covariance), "sigma");
    }
}
