// The streaming FID evaluator on ML.NET data views, with the fixture's random-weight FID Inception network: the same FID and
// Inception Score as features computed in one batch and FeatureStatistics + FrechetDistance directly; vector, grey and
// MLImage columns agree; .npz reference statistics round-trip; bad input fails before any image is processed.
using Microsoft.ML;
using UViT.MLNet.Core.Evaluation;
using UViT.MLNet.Estimators;
using UViT.MLNet.Transforms.Evaluation;
using UViT.MLNet.Transforms.Generation;
using static TorchSharp.torch;

namespace UViT.MLNet.Tests.Evaluation;

[TestClass]
public sealed class FidWorkflowTests
{
    private const int Size = FidWorkflowData.Size;
    private static FidInceptionV3? _network;

    /// <summary>The fixture weights (float16 in the file), loaded once for the class: the network is the slow part.</summary>
    private static FidInceptionV3 Network => _network ??= FidInceptionV3.Load(FidFixtures.PathOf("inception.safetensors"));

    public TestContext TestContext { get; set; } = null!;

    [ClassCleanup]
    public static void Cleanup()
    {
        _network?.Dispose();
        _network = null;
    }

    [TestMethod]
    public void StreamingFidAndInceptionScoreEqualOneBatchComputation()
    {
        var images = FidWorkflowData.RandomBytes(12, 3, Size, seed: 1);
        var reference = FidWorkflowData.RandomReference(seed: 2);
        var view = FidWorkflowData.Vectors(new MLContext(0), images, 3, Size, FidWorkflowData.Symmetric);
        var options = new FidOptions { InputRange = PixelRange.Symmetric, BatchSize = 5, ComputeInceptionScore = true, Settings = new Dictionary<string, string> { ["sampler"] = "test" } };
        var reports = new ListProgress();
        using var evaluator = new FidEvaluator(Network, options);
        var result = evaluator.Evaluate(view, reference, reports);

        using var scope = NewDisposeScope();
        var features = Network.forward(FidWorkflowData.UnitTensor(images, Size));      // [12, 2048], one batch
        double expected = FrechetDistance.Compute(FeatureStatistics.FromFeatures(features), reference);
        var (isMean, isStd) = InceptionScore.Compute(Network.UnbiasedLogits(features));
        Console.WriteLine($"streaming {result}; one batch FID {expected:R}, IS {isMean:R} +- {isStd:R}");

        Assert.AreEqual(12, result.SampleCount);
        Assert.AreEqual(expected, result.Fid, 1e-9 * expected, "FID");
        Assert.IsNotNull(result.InceptionScore);
        // The logits are float32 matmuls per batch (5 rows here, 12 there): the score agrees to float32 rounding, not float64.
        Assert.AreEqual(isMean, result.InceptionScore.Value.Mean, 1e-6 * isMean, "IS mean");
        Assert.AreEqual(isStd, result.InceptionScore.Value.StandardDeviation, 1e-6 * isMean, "IS std");
        Assert.AreEqual("test", result.Settings["sampler"]);
        CollectionAssert.AreEqual(new long[] { 5, 10, 12 }, reports.Reports.Select(r => r.Done).ToArray(), "one report per batch");
        Assert.IsTrue(reports.Reports.All(r => r.Total == 12));
    }

    [TestMethod]
    public void GreyVectorRgbVectorAndMLImageColumnsGiveTheSameStatistics()
    {
        var mlContext = new MLContext(0);
        var grey = FidWorkflowData.RandomBytes(3, 1, Size, seed: 3);
        var rgb = grey.Select(g => g.Concat(g).Concat(g).ToArray()).ToList();
        using var evaluator = new FidEvaluator(Network, new FidOptions { InputRange = PixelRange.Bytes });
        var fromGrey = evaluator.ComputeStatistics(FidWorkflowData.Vectors(mlContext, grey, 1, Size, b => b));
        var fromRgb = evaluator.ComputeStatistics(FidWorkflowData.Vectors(mlContext, rgb, 3, Size, b => b));
        var fromImages = evaluator.ComputeStatistics(FidWorkflowData.Images(mlContext, rgb));
        // Bytes map to [0,1] as (v/127.5 - 1 + 1)/2 for vectors and v/255 for MLImage: equal up to float32 rounding.
        Assert.AreEqual(0.0, MaxAbsDiff(fromGrey.Mean, fromRgb.Mean), 1e-12, "grey is replicated exactly");
        Assert.AreEqual(0.0, MaxAbsDiff(fromImages.Mean, fromRgb.Mean), 1e-3, "MLImage vs vector means");
        Assert.AreEqual(0.0, MaxAbsDiff(fromImages.Covariance, fromRgb.Covariance), 1e-3, "MLImage vs vector covariances");
    }

    [TestMethod]
    public void NpzReferenceStatisticsRoundTripThroughTheCatalog()
    {
        var mlContext = new MLContext(0);
        var images = FidWorkflowData.Images(mlContext, FidWorkflowData.RandomBytes(3, 3, Size, seed: 4));
        var generated = FidWorkflowData.Images(mlContext, FidWorkflowData.RandomBytes(3, 3, Size, seed: 5));
        string npz = Path.Combine(TestContext.TestRunDirectory ?? Path.GetTempPath(), Guid.NewGuid().ToString("N") + ".npz");
        using var evaluator = new FidEvaluator(Network);
        var reference = evaluator.ComputeStatistics(images);
        FidStatisticsFile.Write(npz, reference);
        var read = FidStatisticsFile.Read(npz);
        CollectionAssert.AreEqual(reference.Mean, read.Mean);
        CollectionAssert.AreEqual(reference.Covariance, read.Covariance);
        double direct = evaluator.Evaluate(generated, reference).Fid;
        var viaCatalog = mlContext.Diffusion().Evaluation.Fid(generated, npz, FidFixtures.PathOf("inception.safetensors"));
        Assert.AreEqual(direct, viaCatalog.Fid, 1e-9 * direct);
        Assert.IsNull(viaCatalog.InceptionScore, "IS only when asked for");
        // Zero up to the square root's rounding on a rank-2 covariance of large random-weight features (trace ~ 1e4).
        Assert.AreEqual(0.0, evaluator.Evaluate(images, reference).Fid, 1e-3, "an image set against its own statistics");
    }

    [TestMethod]
    public void BadInputFailsWithTheColumnNamed()
    {
        var mlContext = new MLContext(0);
        using var evaluator = new FidEvaluator(Network);
        var reference = FidWorkflowData.RandomReference(seed: 6);
        var twoChannels = FidWorkflowData.Vectors(mlContext, FidWorkflowData.RandomBytes(2, 2, Size, seed: 7), 2, Size, b => b);
        var missing = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new FidEvaluator(Network, new FidOptions { ImageColumnName = "Pixels" }).ComputeStatistics(twoChannels));
        StringAssert.Contains(missing.Message, "'Pixels' not found");
        var channels = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => evaluator.Evaluate(twoChannels, reference));
        StringAssert.Contains(channels.Message, "2 channels");
        var narrow = new FeatureStatistics([0.0, 0.0], [1.0, 0.0, 0.0, 1.0]);
        Assert.ThrowsExactly<ArgumentException>(() => evaluator.Evaluate(twoChannels, narrow));
        var one = FidWorkflowData.Vectors(mlContext, FidWorkflowData.RandomBytes(1, 3, Size, seed: 8), 3, Size, b => b);
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentException>(() => evaluator.ComputeStatistics(one)).Message, "at least 2 images");
        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();
        Assert.ThrowsExactly<OperationCanceledException>(() => evaluator.ComputeStatistics(one, cancellationToken: cancelled.Token));
        Assert.ThrowsExactly<FileNotFoundException>(() => new FidEvaluator("no-such-inception.pth"));
    }

    /// <summary>Records reports on the reporting thread (Progress&lt;T&gt; would post them asynchronously).</summary>
    private sealed class ListProgress : IProgress<FidProgress>
    {
        public List<FidProgress> Reports { get; } = [];
        public void Report(FidProgress value) => Reports.Add(value);
    }

    private static double MaxAbsDiff(double[] a, double[] b) => a.Zip(b, (x, y) => Math.Abs(x - y)).Max();
}
