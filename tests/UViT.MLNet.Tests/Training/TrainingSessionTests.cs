// The training recipe: warm-up starts at lr 0, EMA starts as a copy and averages with the recipe's warm-up offset,
// guidance dropout hits its rate, loss falls on a toy distribution, a resumed run reproduces the uninterrupted one exactly,
// and a step leaks no tensors.
using TorchSharp;
using UViT.MLNet.Core.Generation;
using UViT.MLNet.Core.Networks;
using UViT.MLNet.Core.Training;
using UViT.MLNet.Tests.Support;
using static TorchSharp.torch;

namespace UViT.MLNet.Tests.Training;

[TestClass]
public sealed class TrainingSessionTests
{
    public TestContext TestContext { get; set; } = null!;

    private static readonly UViTConfig Tiny = new() { ImageSize = 8, PatchSize = 2, InChannels = 1, EmbedDim = 32, Depth = 2, NumHeads = 2, NumClasses = 3 };

    /// <summary>8x8 images in [-1, 1]: class 0 a bright left half, class 1 a bright right half (only class 0 when <paramref name="classes"/> is 1).</summary>
    private static (Tensor X, Tensor Y) ToyBatch(int size, Generator generator, int classes = 2)
    {
        var y = randint(0, classes, [size], dtype: ScalarType.Int64, generator: generator);            // [B]
        var columns = arange(8).reshape(1, 1, 1, 8);                                                    // [1, 1, 1, 8]
        var left = columns.lt(4).to(ScalarType.Float32) * 2 - 1;                                        // [1, 1, 1, 8]
        var images = where(y.reshape(-1, 1, 1, 1).eq(0), left, -left).expand(size, 1, 8, 8).clone();   // [B, 1, 8, 8]
        return (images, y);
    }

    private static UViTTrainingSession NewSession(TrainingRecipe recipe, long seed = 3) =>
        new(new UViTNetwork(Tiny, seed: seed), recipe, seed, nullClass: 2);

    [TestMethod]
    public void FirstStepRunsAtLearningRateZeroAndEmaStartsAsACopy()
    {
        using var session = NewSession(new TrainingRecipe { WarmupSteps = 10, ConditionDropProbability = 0.1 });
        var before = session.Network.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.clone());
        foreach (var (key, value) in session.EmaNetwork.state_dict()) Assert.IsTrue(Fixtures.Identical(before[key], value), $"EMA {key} is not a copy");
        Assert.AreEqual(0.0, session.NextLearningRate);
        using var generator = new Generator(1);
        var (x, y) = ToyBatch(8, generator);
        session.TrainStep(x, y);
        foreach (var (key, value) in session.Network.state_dict()) Assert.IsTrue(Fixtures.Identical(before[key], value), $"{key} changed at lr 0");
        Assert.AreEqual(2e-4 / 10, session.NextLearningRate, 1e-12);
    }

    [TestMethod]
    public void CosineDecayFallsFromThePeakAfterWarmUpToZeroAtTheLastStep()
    {
        const double peak = 1e-3;
        Assert.AreEqual(peak / 2, LinearWarmup.LearningRate(peak, 50, 100, cosineDecay: true, totalSteps: 1100), 1e-15, "warm-up is unchanged");
        Assert.AreEqual(peak, LinearWarmup.LearningRate(peak, 100, 100, cosineDecay: true, totalSteps: 1100), 1e-15, "the peak at the end of warm-up");
        Assert.AreEqual(peak * (1 + Math.Cos(Math.PI / 4)) / 2, LinearWarmup.LearningRate(peak, 350, 100, cosineDecay: true, totalSteps: 1100), 1e-15);
        Assert.AreEqual(peak / 2, LinearWarmup.LearningRate(peak, 600, 100, cosineDecay: true, totalSteps: 1100), 1e-15, "half way");
        Assert.AreEqual(0, LinearWarmup.LearningRate(peak, 1100, 100, cosineDecay: true, totalSteps: 1100), 1e-15, "0 at the last step");
        Assert.AreEqual(peak, LinearWarmup.LearningRate(peak, 600, 100, cosineDecay: false, totalSteps: 1100), "no decay: constant after warm-up");

        // The session decays only when it knows the run's length.
        var recipe = new TrainingRecipe { WarmupSteps = 0, LearningRate = peak, CosineDecay = true };
        using var bounded = new UViTTrainingSession(new UViTNetwork(Tiny, seed: 0), recipe, 0, nullClass: 2) { TotalSteps = 2 };
        using var unbounded = NewSession(recipe);
        using var generator = new Generator(1);
        var (x, y) = ToyBatch(4, generator);
        bounded.TrainStep(x, y);
        unbounded.TrainStep(x, y);
        Assert.AreEqual(peak / 2, bounded.NextLearningRate, 1e-15, "step 1 of 2");
        Assert.AreEqual(peak, unbounded.NextLearningRate, "without TotalSteps the rate stays at the peak");
    }

    [TestMethod]
    public void EmaWarmupOffsetSetsHowLongTheAverageReaches()
    {
        // rate_n = min(rate, (1 + n) / (k + n)): k = 10 by default, capped by the recipe's rate, the rate itself without warm-up.
        Assert.AreEqual(2.0 / 11, ExponentialMovingAverage.RateAt(1, 0.999, warmup: true), 1e-15);
        Assert.AreEqual(3.0 / 6, ExponentialMovingAverage.RateAt(2, 0.999, warmup: true, warmupOffset: 4), 1e-15);
        Assert.AreEqual(0.999, ExponentialMovingAverage.RateAt(100_000, 0.999, warmup: true, warmupOffset: 4), 1e-15);
        Assert.AreEqual(0.999, ExponentialMovingAverage.RateAt(1, 0.999, warmup: false, warmupOffset: 4), 1e-15);

        // The session averages with the recipe's offset: after one step from the copy, EMA = r * before + (1 - r) * after.
        using var session = NewSession(new TrainingRecipe { WarmupSteps = 0, LearningRate = 1e-2, EmaRate = 0.999, EmaWarmup = true, EmaWarmupOffset = 3 });
        var before = session.Network.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.clone());
        using var generator = new Generator(4);
        var (x, y) = ToyBatch(4, generator);
        session.TrainStep(x, y);
        double rate = 2.0 / 4;                                                               // (1 + 1) / (3 + 1)
        var after = session.Network.state_dict();
        int moved = 0;
        foreach (var (name, _) in session.Network.named_parameters())
        {
            var expected = before[name] * rate + after[name] * (1 - rate);
            Assert.IsTrue(allclose(session.EmaNetwork.state_dict()[name], expected, rtol: 1e-5, atol: 1e-7), $"EMA {name} is not the offset-3 average");
            if (!Fixtures.Identical(before[name], after[name])) moved++;
        }
        Assert.IsGreaterThan(0, moved, "the step changed no parameter, so the average was not tested");
    }

    [TestMethod]
    public void AnEmaWarmupOffsetOfOneOrLessIsRefusedByName()
    {
        var error = Assert.ThrowsExactly<ArgumentException>(() => new TrainingRecipe { EmaWarmupOffset = 1 }.Validate());
        StringAssert.Contains(error.Message, "EmaWarmupOffset");
        // Unset, it is not written, so the identity of runs saved before it existed is unchanged.
        StringAssert.DoesNotMatch(System.Text.Json.JsonSerializer.Serialize(new TrainingRecipe()), new System.Text.RegularExpressions.Regex("EmaWarmupOffset"));
    }

    [TestMethod]
    public void LossFallsAndSamplesMoveTowardTheData()
    {
        using var session = NewSession(new TrainingRecipe
        {
            LearningRate = 2e-3, WarmupSteps = 20, Beta1 = 0.9, Beta2 = 0.99, WeightDecay = 0, ConditionDropProbability = 0.1,
            Schedule = NoiseScheduleKind.DiscreteSD, EmaRate = 0.99, EmaWarmup = true,
        });
        using var generator = new Generator(5);
        var losses = new List<float>();
        for (int step = 0; step < 300; step++)
        {
            using var scope = NewDisposeScope();
            var (x, y) = ToyBatch(32, generator, classes: 1);
            losses.Add(session.TrainStep(x, y));
        }
        double first = losses.Take(30).Average(), last = losses.TakeLast(30).Average();
        TestContext.WriteLine($"loss: first 30 steps {first:F4}, last 30 steps {last:F4}");
        Assert.IsLessThan(0.6 * first, last, $"loss did not fall enough: {first:F4} -> {last:F4}");

        // The statistic: mean of the left half minus mean of the right half: +2 for the data (bright left), about 0 for the
        // Gaussian noise the sampler starts from. Samples must move most of the way toward the data.
        // (Label-dependence is measured end to end on MNIST by the CLI's digit check; 300 steps are too few for a tiny model.)
        using var sampler = session.CreateGenerator();
        var seeds = Enumerable.Range(0, 16).Select(i => (long)i).ToList();
        using var samples = sampler.Generate(seeds, seeds.Select(_ => 0L).ToList(), new SamplerSettings { Steps = 20, GuidanceScale = 1 });  // [16, 1, 8, 8]
        using var noise = randn(16, 1, 8, 8, generator: generator);
        double contrast = (samples[.., .., .., ..4].mean() - samples[.., .., .., 4..].mean()).item<float>();
        double noiseContrast = (noise[.., .., .., ..4].mean() - noise[.., .., .., 4..].mean()).item<float>();
        TestContext.WriteLine($"left-right contrast: samples {contrast:F3}, data 2, starting noise {noiseContrast:F3}");
        Assert.IsGreaterThan(1.2, contrast, $"samples did not move toward the data: contrast {contrast:F3} (noise {noiseContrast:F3})");
    }

    [TestMethod]
    public void FinishingHandsTheTrainedNetworksOverWithoutACopy()
    {
        var recipe = new TrainingRecipe { LearningRate = 1e-3, WarmupSteps = 1, ConditionDropProbability = 0.2, EmaRate = 0.9 };
        using var generator = new Generator(5);
        var (x, y) = ToyBatch(8, generator);
        UViTGenerator finished;
        float[] copiedSample;
        var settings = new SamplerSettings { Steps = 3, GuidanceScale = 1 };
        using (var session = NewSession(recipe))
        {
            session.TrainStep(x, y);
            session.TrainStep(x, y);
            using (var copy = session.CreateGenerator())
            using (var sample = copy.Generate([1, 2], [0, 1], settings)) copiedSample = sample.data<float>().ToArray();
            var network = session.Network;
            finished = session.FinishIntoGenerator();
            Assert.AreSame(network, finished.Network, "the session's own network, not a copy");
            Assert.ThrowsExactly<InvalidOperationException>(() => session.TrainStep(x, y));
            Assert.ThrowsExactly<InvalidOperationException>(() => session.SaveCheckpoint(Path.GetTempFileName()));
        }
        using (finished)
        using (var sample = finished.Generate([1, 2], [0, 1], settings))
        {
            CollectionAssert.AreEqual(copiedSample, sample.data<float>().ToArray(), "the handed-over networks sample as the copies did, after the session is disposed");
        }
        x.Dispose();
        y.Dispose();
    }

    [TestMethod]
    public void ResumedRunReproducesTheUninterruptedRun()
    {
        var recipe = new TrainingRecipe { LearningRate = 1e-3, WarmupSteps = 3, ConditionDropProbability = 0.2, EmaRate = 0.9 };
        var batches = new List<(Tensor X, Tensor Y)>();
        using (var generator = new Generator(11))
        {
            for (int i = 0; i < 6; i++) batches.Add(ToyBatch(8, generator));
        }
        var straight = new List<float>();
        using (var session = NewSession(recipe))
        {
            foreach (var (x, y) in batches) straight.Add(session.TrainStep(x, y));
        }

        string checkpoint = Path.Combine(TestContext.TestRunDirectory ?? Path.GetTempPath(), Guid.NewGuid().ToString("N") + ".ckpt");
        var resumed = new List<float>();
        using (var session = NewSession(recipe))
        {
            foreach (var (x, y) in batches.Take(3)) resumed.Add(session.TrainStep(x, y));
            session.SaveCheckpoint(checkpoint, new Dictionary<string, string> { ["epoch"] = "0" });
        }
        using (var session = NewSession(recipe, seed: 3))
        {
            var metadata = session.LoadCheckpoint(checkpoint);
            Assert.AreEqual("0", metadata["epoch"]);
            Assert.AreEqual(3, session.Step);
            foreach (var (x, y) in batches.Skip(3)) resumed.Add(session.TrainStep(x, y));
        }
        CollectionAssert.AreEqual(straight, resumed, $"straight {string.Join(", ", straight)} vs resumed {string.Join(", ", resumed)}");
    }

    [TestMethod]
    public void CorruptCheckpointFailsClearly()
    {
        string path = Path.Combine(TestContext.TestRunDirectory ?? Path.GetTempPath(), Guid.NewGuid().ToString("N") + ".ckpt");
        using (var session = NewSession(new TrainingRecipe())) session.SaveCheckpoint(path);
        byte[] bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..(bytes.Length / 3)]);
        using var other = NewSession(new TrainingRecipe());
        var error = Assert.ThrowsExactly<InvalidDataException>(() => other.LoadCheckpoint(path));
        StringAssert.Contains(error.Message, path);
    }

    [TestMethod]
    public void TrainStepLeaksNoTensors()
    {
        using var session = NewSession(new TrainingRecipe { ConditionDropProbability = 0.1 });
        using var generator = new Generator(1);
        var (x, y) = ToyBatch(4, generator);
        session.TrainStep(x, y);                                   // first step allocates the optimiser state
        long before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        for (int i = 0; i < 3; i++) session.TrainStep(x, y);
        Assert.AreEqual(before, DisposeScopeManager.Statistics.ThreadTotalLiveCount, "live tensors grew across training steps");
    }

    [TestMethod]
    public void OfficialRecipesFollowTheConfigs()
    {
        Assert.AreEqual(0.999, TrainingRecipe.ForPreset("U-ViT-S/2 CIFAR-10").Beta2);
        Assert.AreEqual(2500, TrainingRecipe.ForPreset("cifar10_uvit_small").WarmupSteps);
        Assert.AreEqual(3e-4, TrainingRecipe.ForPreset("U-ViT-M/4").LearningRate);
        Assert.AreEqual(NoiseScheduleKind.DiscreteSD, TrainingRecipe.ForPreset("U-ViT-H/2").Schedule);
        Assert.AreEqual(0.15, TrainingRecipe.ForPreset("U-ViT-L/2").ConditionDropProbability);
        var coco = TrainingRecipe.ForPreset("U-ViT-S/2 MS-COCO");
        Assert.AreEqual((0.9, 0.9, 0.1), (coco.Beta1, coco.Beta2, coco.ConditionDropProbability));
    }
}
