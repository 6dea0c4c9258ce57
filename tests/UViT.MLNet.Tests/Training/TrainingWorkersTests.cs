// Training workers (UViTTrainingSession.Workers): two workers give the same weights, bit for bit, as one thread running the
// same two micro-batches in order; more micro-batches than workers cover the whole batch; a failure on a worker reaches the
// caller and changes nothing; nothing leaks on any thread.
using TorchSharp;
using UViT.MLNet.Core.Networks;
using UViT.MLNet.Core.Training;
using UViT.MLNet.Tests.Support;
using static TorchSharp.torch;

namespace UViT.MLNet.Tests.Training;

[TestClass]
public sealed class TrainingWorkersTests
{
    private static readonly UViTConfig Tiny = new() { ImageSize = 8, PatchSize = 2, InChannels = 1, EmbedDim = 32, Depth = 2, NumHeads = 2, NumClasses = 4 };

    private static readonly TrainingRecipe Recipe = new() { WarmupSteps = 0, LearningRate = 1e-3, ConditionDropProbability = 0.2, MinSnrGamma = 1, GradientClipNorm = 1 };

    private static UViTTrainingSession NewSession(TrainingRecipe recipe, int workers) =>
        new(new UViTNetwork(Tiny, seed: 5), recipe, seed: 5, nullClass: 3) { Workers = workers };

    /// <summary>[B, 1, 8, 8] images in [-1, 1] and [B] labels in [0, 3).</summary>
    private static (Tensor X, Tensor Y) Batch(int size, Generator generator) =>
        (rand([size, 1, 8, 8], generator: generator).mul(2).sub(1), randint(0, 3, [size], dtype: ScalarType.Int64, generator: generator));

    private static void AssertSameWeights(UViTTrainingSession expected, UViTTrainingSession actual, string what)
    {
        foreach (var (network, name) in new[] { (expected.Network, "raw"), (expected.EmaNetwork, "EMA") })
        {
            var other = name == "raw" ? actual.Network.state_dict() : actual.EmaNetwork.state_dict();
            foreach (var (key, value) in network.state_dict())
                Assert.IsTrue(Fixtures.Identical(value, other[key]), $"{what}: {name} '{key}' differs");
        }
    }

    [TestMethod]
    public void TwoWorkersTrainAsOneThreadRunningTheSameTwoMicroBatchesInOrder()
    {
        using (new SingleThread())
        {
            using var inOrder = NewSession(Recipe with { GradientAccumulationSteps = 2 }, workers: 1);
            using var parallel = NewSession(Recipe, workers: 2);
            using var generator = new Generator(8);
            for (int step = 0; step < 3; step++)
            {
                var (x, y) = Batch(6, generator);
                float expected = inOrder.TrainStep(x, y), actual = parallel.TrainStep(x, y);
                Assert.AreEqual(expected, actual, 1e-6, $"step {step}: the batch loss");
            }
            Assert.AreEqual(3, parallel.Step);
            AssertSameWeights(inOrder, parallel, "after 3 steps");
        }
    }

    [TestMethod]
    public void WorkersShareMoreMicroBatchesThanThereAreWorkers()
    {
        // 2 workers x 2 accumulation steps = 4 micro-batches, summed per worker first: not the same additions as in order,
        // so equal within float rounding rather than bit for bit; a skipped or doubled micro-batch would be far off.
        using (new SingleThread())
        {
            using var inOrder = NewSession(Recipe with { GradientAccumulationSteps = 4 }, workers: 1);
            using var parallel = NewSession(Recipe with { GradientAccumulationSteps = 2 }, workers: 2);
            using var generator = new Generator(9);
            var (x, y) = Batch(8, generator);
            Assert.AreEqual(inOrder.TrainStep(x, y), parallel.TrainStep(x, y), 1e-6, "the batch loss");
            var expected = inOrder.Network.state_dict();
            double largest = 0;
            foreach (var (key, value) in parallel.Network.state_dict())
                largest = Math.Max(largest, value.sub(expected[key]).abs().max().item<float>());
            Assert.IsTrue(largest < 1e-6, $"weights differ by up to {largest} after one step at lr 1e-3");
        }
    }

    [TestMethod]
    public void AFailureOnAWorkerReachesTheCallerAndChangesNothing()
    {
        using var session = NewSession(Recipe, workers: 2);
        using var generator = new Generator(10);
        var (x, y) = Batch(4, generator);
        session.TrainStep(x, y);
        var before = session.Network.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.clone());
        var outOfRange = full([4], 7L, dtype: ScalarType.Int64);                  // the network has 4 label values
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => session.TrainStep(x, outOfRange));
        Assert.AreEqual(1, session.Step, "the failed step was not counted");
        foreach (var (key, value) in session.Network.state_dict()) Assert.IsTrue(Fixtures.Identical(before[key], value), $"'{key}' changed");
        session.TrainStep(x, y);                                                   // the workers are still there
        Assert.AreEqual(2, session.Step);
    }

    [TestMethod]
    public void StepsWithWorkersLeakNoTensorsOnAnyThread()
    {
        using var session = NewSession(Recipe, workers: 2);
        using var generator = new Generator(11);
        var (x, y) = Batch(4, generator);
        session.TrainStep(x, y);                                                   // the first step allocates optimiser state
        long caller = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        var workers = session.WorkerLiveTensors.ToArray();
        Assert.AreEqual(2, workers.Length);
        for (int i = 0; i < 3; i++) session.TrainStep(x, y);
        Assert.AreEqual(caller, DisposeScopeManager.Statistics.ThreadTotalLiveCount, "live tensors grew on the calling thread");
        CollectionAssert.AreEqual(workers, session.WorkerLiveTensors.ToArray(), "live tensors grew on a worker thread");
    }

    [TestMethod]
    public void WorkerCountsBelowOneAreRefused()
    {
        var error = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => NewSession(Recipe, workers: 0));
        StringAssert.Contains(error.Message, "at least one worker");
    }
}
