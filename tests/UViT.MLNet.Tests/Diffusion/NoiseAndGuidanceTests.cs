// Per-row seeded noise (batch-independent samples) and classifier-free guidance (one batched forward equals two passes).
using TorchSharp;
using UViT.MLNet.Core.Diffusion;
using UViT.MLNet.Tests.Networks;
using UViT.MLNet.Tests.Support;
using static TorchSharp.torch;
using static UViT.MLNet.Tests.Diffusion.TensorAssert;

namespace UViT.MLNet.Tests.Diffusion;

[TestClass]
public sealed class NoiseAndGuidanceTests
{
    [TestMethod]
    public void RowSeededNoiseIsIndependentOfTheBatch()
    {
        using var scope = NewDisposeScope();
        using var batch = new RowSeededNoise([11, 22, 33]);
        using var alone = new RowSeededNoise([22]);
        using var reordered = new RowSeededNoise([33, 22]);
        var (initialBatch, initialAlone, initialReordered) = (batch.InitialNoise([4, 8, 8]), alone.InitialNoise([4, 8, 8]), reordered.InitialNoise([4, 8, 8]));
        Assert.IsTrue(BitEqual(initialBatch[1], initialAlone[0]), "initial noise of seed 22 depends on its batch");
        Assert.IsTrue(BitEqual(initialBatch[1], initialReordered[1]), "initial noise of seed 22 depends on its position");
        for (int draw = 0; draw < 3; draw++)
        {
            var (b, a, r) = (batch.Next(initialBatch), alone.Next(initialAlone), reordered.Next(initialReordered));
            Assert.IsTrue(BitEqual(b[1], a[0]) && BitEqual(b[1], r[1]), $"draw {draw} of seed 22 depends on its batch");
        }
        Assert.IsFalse(BitEqual(initialBatch[0], initialBatch[1]), "different seeds must give different noise");
    }

    [TestMethod]
    public void RowSeededSamplesAreBitIdenticalInAnyBatch()
    {
        // A stochastic sampler with a row-independent model: row 22's sample is the same bits alone or in a batch.
        var schedule = new ContinuousVPSchedule();
        using var scope = NewDisposeScope();
        var model = AnalyticDenoisers.Gaussian(schedule, 0.5);
        var sampler = new EulerMaruyamaSampler(schedule, 10);
        Tensor Run(long[] seeds)
        {
            using var noise = new RowSeededNoise(seeds);
            return sampler.Sample(model, noise.InitialNoise([2, 4, 4]), noise);
        }
        Assert.IsTrue(BitEqual(Run([11, 22, 33])[1], Run([22])[0]));
    }

    [TestMethod]
    public void RowSeededNetworkSamplesAreBitIdenticalInAnyBatch()
    {
        // End to end with the guided U-ViT: seed 22 alone equals row 1 of a batch of 7 (same label), bit for bit. This also
        // needs the network's per-row results to be independent of the batch size, which holds for libtorch's CPU kernels
        // (measured with 1 and 2 threads); other backends (GPU, other BLAS builds) may not promise it.
        using var threads = new SingleThread();
        using var model = SamplerFixture.LoadModel();
        using var scope = NewDisposeScope();
        var sampler = new EulerMaruyamaSampler(new ContinuousVPSchedule(), 8);
        Tensor Run(long[] seeds, long[] labels)
        {
            using var noise = new RowSeededNoise(seeds);
            var guided = ClassifierFreeGuidance.ForClassLabels(model, tensor(labels), SamplerFixture.NullClass, GuidanceWeight.FromExtraWeight(0.4));
            return sampler.Sample(guided, noise.InitialNoise([model.Config.InChannels, model.Config.ImageSize, model.Config.ImageSize]), noise);
        }
        long[] labels = Enumerable.Range(1, 7).Select(i => (long)(i % model.Config.NumClasses)).ToArray();   // any the network embeds
        Assert.IsTrue(BitEqual(Run([11, 22, 33, 44, 55, 66, 77], labels)[1], Run([22], [labels[1]])[0]));
    }

    [TestMethod]
    public void BatchedGuidanceEqualsTwoSeparatePasses()
    {
        using var model = SamplerFixture.LoadModel();
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var io = Fixtures.Tensors(SamplerFixture.Io.File);
        var x = io["z_init"];
        var time = full(x.shape[0], 321.5f);
        var weight = GuidanceWeight.FromExtraWeight(io["cfg_scale"].item<float>());
        var batched = ClassifierFreeGuidance.ForClassLabels(model, io["y"], SamplerFixture.NullClass, weight)(x, time);
        var conditional = model.forward(x, time, io["y"]);
        var unconditional = model.forward(x, time, full_like(io["y"], SamplerFixture.NullClass));
        var separate = conditional + (conditional - unconditional) * weight.ExtraWeight;
        double diff = Fixtures.MaxAbsDiff(batched, separate);
        Console.WriteLine($"batched vs separate: max |diff| = {diff:E3}");
        Assert.IsLessThanOrEqualTo(1e-5, diff);
        Assert.IsGreaterThan(1e-3, Fixtures.MaxAbsDiff(batched, conditional), "guidance must change the prediction");
    }

    [TestMethod]
    public void BatchedTextGuidanceEqualsTwoSeparatePasses()
    {
        // The text U-ViT fixture: the empty prompt's context is broadcast from [1, T, D] to the batch.
        var (ioFile, entry) = Fixtures.ManifestFiles.Single(f => f.Entry.GetProperty("kind").GetString() == "io"
                                                                 && f.Entry.GetProperty("tensors").TryGetProperty("context", out _));
        using var model = UViTParityTests.LoadModel(entry.GetProperty("model").GetString() + ".safetensors");
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var io = Fixtures.Tensors(ioFile);
        var (x, time, context) = (io["x"], io["t"], io["context"]);
        var empty = randn([1, context.shape[1], context.shape[2]]);                                 // [1, T, D]
        var weight = GuidanceWeight.FromExtraWeight(1.0);
        var batched = ClassifierFreeGuidance.ForTextContext(model, context, empty, weight)(x, time);
        var conditional = model.forward(x, time, context: context);
        var unconditional = model.forward(x, time, context: empty.expand(context.shape));
        double diff = Fixtures.MaxAbsDiff(batched, conditional + (conditional - unconditional) * weight.ExtraWeight);
        Console.WriteLine($"text: batched vs separate: max |diff| = {diff:E3}");
        Assert.IsLessThanOrEqualTo(1e-5, diff);
    }

    [TestMethod]
    public void GuidedPredictorLeavesOnlyItsResult()
    {
        ConditionalNoisePredictor model = (x, t, c) => x * c.to(x.dtype).reshape(-1, 1, 1, 1);
        var x = ones(2, 1, 2, 2);
        var (condition, nullCondition, time) = (tensor(new[] { 2L, 3L }), tensor(new[] { 0L, 0L }), zeros(2));
        foreach (var weight in new[] { GuidanceWeight.None, GuidanceWeight.FromExtraWeight(0.4) })
        {
            long before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
            ClassifierFreeGuidance.Guide(model, condition, nullCondition, weight)(x, time).Dispose();
            Assert.AreEqual(before, DisposeScopeManager.Statistics.ThreadTotalLiveCount, $"weight {weight.ExtraWeight}");
        }
        foreach (var t in new[] { x, condition, nullCondition, time }) t.Dispose();
    }

    [TestMethod]
    public void GuidanceConventionsDifferByOne()
    {
        Assert.AreEqual(0.4, GuidanceWeight.FromDiffusersGuidanceScale(1.4).ExtraWeight, 1e-12);
        Assert.AreEqual(1.4, GuidanceWeight.FromExtraWeight(0.4).DiffusersGuidanceScale, 1e-12);
        Assert.AreEqual(0.0, GuidanceWeight.None.ExtraWeight);
    }

    [TestMethod]
    public void ZeroWeightRunsOnlyTheConditionalBranch()
    {
        using var scope = NewDisposeScope();
        var batches = new List<long>();
        ConditionalNoisePredictor model = (x, t, c) => { batches.Add(x.shape[0]); return x * c.to(x.dtype).reshape(-1, 1, 1, 1); };
        var x = ones(2, 1, 2, 2);
        var guided = ClassifierFreeGuidance.Guide(model, tensor(new[] { 2L, 3L }), tensor(new[] { 0L, 0L }), GuidanceWeight.None)(x, zeros(2));
        CollectionAssert.AreEqual(new List<long> { 2 }, batches);
        Assert.AreEqual(3f, guided[1, 0, 0, 0].item<float>());
        batches.Clear();
        var strong = ClassifierFreeGuidance.Guide(model, tensor(new[] { 2L, 3L }), tensor(new[] { 0L, 0L }), GuidanceWeight.FromExtraWeight(1))(x, zeros(2));
        CollectionAssert.AreEqual(new List<long> { 4 }, batches, "both branches in one batch");
        Assert.AreEqual(6f, strong[1, 0, 0, 0].item<float>(), "3 + 1 (3 - 0)");
    }
}
