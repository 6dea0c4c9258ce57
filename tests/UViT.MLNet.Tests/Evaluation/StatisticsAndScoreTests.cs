// Streaming statistics equal the two-pass ones (and np.mean/np.cov of the fixtures); Inception Score on cases with known answers.
using UViT.MLNet.Core.Evaluation;
using static TorchSharp.torch;

namespace UViT.MLNet.Tests.Evaluation;

[TestClass]
public sealed class StatisticsAndScoreTests
{
    public static IEnumerable<object[]> Cases() => FidFixtures.FrechetCases();

    [TestMethod]
    [DynamicData(nameof(Cases))]
    public void StreamingStatisticsEqualTwoPassAndNumpy(string name)
    {
        using var scope = NewDisposeScope();
        var t = FidFixtures.Tensors("frechet.safetensors");
        var features = t[name + "_features1"];                              // [N, D]
        // An offset far from zero makes the naive sum-of-squares formula lose digits; the shifted sums must not.
        var shifted = features + 1000.0;                                    // [N, D]
        using var accumulator = new FeatureStatisticsAccumulator();
        foreach (var batch in shifted.split(37)) accumulator.Add(batch);  // uneven batches: 37, 37, ..., remainder
        Assert.AreEqual(features.shape[0], accumulator.Count);
        var streamed = accumulator.ToStatistics();
        var twoPass = FeatureStatistics.FromFeatures(shifted);
        Assert.IsLessThanOrEqualTo(1e-9, Support.Fixtures.MaxAbsDiff(streamed.MeanTensor(), twoPass.MeanTensor()));
        double covDiff = Support.Fixtures.MaxAbsDiff(streamed.CovarianceTensor(), twoPass.CovarianceTensor());
        Console.WriteLine($"{name}: streamed vs two-pass covariance max |diff| = {covDiff:E2}");
        Assert.IsLessThanOrEqualTo(1e-10, covDiff);
        Assert.IsLessThanOrEqualTo(1e-10, Support.Fixtures.MaxAbsDiff(streamed.CovarianceTensor(), t[name + "_sigma1"]), "np.cov");
    }

    [TestMethod]
    public void AccumulatorNeedsTwoSamplesAndOneWidth()
    {
        using var accumulator = new FeatureStatisticsAccumulator();
        Assert.ThrowsExactly<InvalidOperationException>(() => accumulator.ToStatistics());
        accumulator.Add(zeros(1, 4));
        Assert.ThrowsExactly<InvalidOperationException>(() => accumulator.ToStatistics());
        Assert.ThrowsExactly<ArgumentException>(() => accumulator.Add(zeros(2, 5)));
    }

    [TestMethod]
    public void InceptionScoreIsOneForIdenticalPredictions()
    {
        using var scope = NewDisposeScope();
        var logits = randn(1, 1008).expand(100, 1008);                       // [100, 1008] same distribution for all
        var (mean, std) = InceptionScore.Compute(logits);
        Assert.AreEqual(1.0, mean, 1e-12);
        Assert.AreEqual(0.0, std, 1e-12);
    }

    [TestMethod]
    public void InceptionScoreIsTheClassCountForConfidentBalancedPredictions()
    {
        // Each split holds k confident, distinct classes: p(y|x) one-hot, p(y) uniform on k, so KL = log k and IS = k.
        using var scope = NewDisposeScope();
        const int k = 8, splits = InceptionScore.DefaultSplits;
        var classes = arange(k * splits).remainder(k);                       // [80]
        var logits = nn.functional.one_hot(classes, 1008).to(ScalarType.Float64) * 200; // [80, 1008]
        var (mean, std) = InceptionScore.Compute(logits);
        Assert.AreEqual(k, mean, 1e-6);
        Assert.AreEqual(0.0, std, 1e-6);
    }

    [TestMethod]
    public void InceptionScoreMatchesADirectComputation()
    {
        // The original formula per split, exp(mean_i sum_c p_ic (log p_ic - log q_c)), computed naively in C#.
        using var scope = NewDisposeScope();
        var logits = randn([23, 7], ScalarType.Float64, generator: new TorchSharp.torch.Generator(3)) * 3; // [23, 7]
        const int splits = 4;
        double[] flat = logits.data<double>().ToArray();
        var scores = new List<double>();
        for (int s = 0; s < splits; s++)
        {
            int start = s * 23 / splits, end = (s + 1) * 23 / splits;
            var p = Enumerable.Range(start, end - start).Select(i =>
            {
                var row = flat.Skip(i * 7).Take(7).ToArray();
                double max = row.Max(), z = row.Sum(v => Math.Exp(v - max));
                return row.Select(v => Math.Exp(v - max) / z).ToArray();
            }).ToList();
            var q = Enumerable.Range(0, 7).Select(c => p.Average(r => r[c])).ToArray();
            scores.Add(Math.Exp(p.Average(r => r.Select((v, c) => v * (Math.Log(v) - Math.Log(q[c]))).Sum())));
        }
        double expectedMean = scores.Average();
        double expectedStd = Math.Sqrt(scores.Average(v => (v - expectedMean) * (v - expectedMean)));
        var (mean, std) = InceptionScore.Compute(logits, splits);
        Assert.AreEqual(expectedMean, mean, 1e-12);
        Assert.AreEqual(expectedStd, std, 1e-12);
        Assert.ThrowsExactly<ArgumentException>(() => InceptionScore.Compute(logits, 24));
    }
}
