// The ML.NET pipeline end to end on a tiny config: fit on real digits, generate lazily in mini-batches, save the model
// zip and load it in a fresh MLContext with bit-identical results, single-image prediction, and batch-independent seeds.
using Microsoft.ML;
using Microsoft.ML.Data;
using UViT.MLNet.Estimators;
using UViT.MLNet.Transforms.Generation;
using UViT.MLNet.Transforms.Persistence;

namespace UViT.MLNet.Tests.Pipeline;

[TestClass]
public sealed class TrainAndGenerateTests
{
    public TestContext TestContext { get; set; } = null!;

    private string TempPath(string name) => Path.Combine(TestContext.TestRunDirectory ?? Path.GetTempPath(), Guid.NewGuid().ToString("N") + "_" + name);

    [TestMethod]
    public void FitGenerateSaveLoadRoundTripsBitIdentically()
    {
        var mlContext = new MLContext(seed: 1);
        var data = PipelineFixture.Mnist(64).ToDataView(mlContext);
        var pipeline = mlContext.Diffusion().Trainers.UViT(PipelineFixture.TinyOptions());
        using var model = pipeline.Fit(data);
        Assert.AreEqual(10, model.Generator.ClassCount);
        Assert.AreEqual(10L, model.Generator.NullClass);

        var requests = PipelineFixture.Requests(mlContext, [(0, 11), (3, 12), (9, 13), (5, 14), (1, 15)]);
        var generated = model.Transform(requests);
        var schema = generated.Schema;
        Assert.AreEqual(new VectorDataViewType(NumberDataViewType.Single, 1, 28, 28), schema["GeneratedPixels"].Type);
        var before = PipelineFixture.Pixels(generated);
        Assert.HasCount(5, before);
        Assert.IsTrue(before.All(p => p.Length == 784 && p.All(float.IsFinite)));

        string zip = TempPath("model.zip");
        mlContext.Model.Save(model, data.Schema, zip);

        var fresh = new MLContext(seed: 99).RegisterUViT();
        var loaded = fresh.Model.Load(zip, out var inputSchema);
        Assert.AreEqual(data.Schema["Image"].Type, inputSchema["Image"].Type);
        var loadedGenerator = (UViTGenerationTransformer)loaded;
        Assert.AreEqual(model.Settings, loadedGenerator.Settings);
        CollectionAssert.AreEqual(model.ClassNames.ToList(), loadedGenerator.ClassNames.ToList());
        var after = PipelineFixture.Pixels(loaded.Transform(PipelineFixture.Requests(fresh, [(0, 11), (3, 12), (9, 13), (5, 14), (1, 15)])));
        for (int i = 0; i < before.Count; i++) CollectionAssert.AreEqual(before[i], after[i], $"row {i} differs after loading");
        loadedGenerator.Dispose();
    }

    [TestMethod]
    public void SamplesDependOnlyOnSeedAndLabelNotOnTheBatch()
    {
        var mlContext = new MLContext(seed: 1);
        using var model = mlContext.Diffusion().Trainers.UViT(PipelineFixture.TinyOptions(steps: 2)).Fit(PipelineFixture.Mnist(32).ToDataView(mlContext));
        var batched = PipelineFixture.Pixels(model.WithBatchSize(4).Transform(PipelineFixture.Requests(mlContext, [(2, 100), (7, 5), (2, 42), (4, 8), (6, 9)])));
        var alone = PipelineFixture.Pixels(model.WithBatchSize(1).Transform(PipelineFixture.Requests(mlContext, [(2, 42)])));
        CollectionAssert.AreEqual(batched[2], alone[0], "the same (label, seed) gave another image in another batch");
        CollectionAssert.AreNotEqual(batched[0], batched[2], "different seeds gave the same image");
    }

    [TestMethod]
    public void RequestHelpersBuildTheRowsTheModelReads()
    {
        var mlContext = new MLContext(seed: 1);
        using var model = mlContext.Diffusion().Trainers.UViT(PipelineFixture.TinyOptions(steps: 2)).Fit(PipelineFixture.Mnist(32).ToDataView(mlContext));
        var byHand = PipelineFixture.Pixels(model.Transform(PipelineFixture.Requests(mlContext, [(3, 11), (9, 12)])));
        var generated = model.Transform(model.CreateRequests(mlContext, [(3, 11L), (9, 12L)]));
        var helped = generated.ReadVectors();
        for (int i = 0; i < 2; i++) CollectionAssert.AreEqual(byHand[i], helped[i], $"row {i}");
        var images = generated.ReadImages();
        Assert.HasCount(2, images);
        Assert.AreEqual(28, images[0].Width);
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => model.CreateRequests(mlContext, [(10, 1L)])).Message, "Class 10 is outside [0, 9]");
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => generated.ReadImages("Nope")).Message, "'Nope' not found");
    }

    [TestMethod]
    public void PredictionEngineGeneratesOneImage()
    {
        var mlContext = new MLContext(seed: 1);
        using var model = mlContext.Diffusion().Trainers.UViT(PipelineFixture.TinyOptions(steps: 2)).Fit(PipelineFixture.Mnist(32).ToDataView(mlContext));
        var engineSchema = SchemaDefinition.Create(typeof(PipelineFixture.Request));
        engineSchema[nameof(PipelineFixture.Request.Label)].ColumnType = new KeyDataViewType(typeof(uint), 10);
        var engine = mlContext.Model.CreatePredictionEngine<PipelineFixture.Request, Generated>(model, inputSchemaDefinition: engineSchema);
        var result = engine.Predict(new PipelineFixture.Request { Label = 4, Seed = 3 });
        Assert.HasCount(784, result.GeneratedPixels);
        Assert.IsNotNull(result.GeneratedImage);
        Assert.AreEqual(28, result.GeneratedImage.Width);

        var viaTransform = PipelineFixture.Pixels(model.Transform(PipelineFixture.Requests(mlContext, [(4, 3)])));
        CollectionAssert.AreEqual(viaTransform[0], result.GeneratedPixels, "PredictionEngine and Transform disagree");
    }

    public sealed class Generated
    {
        [VectorType(1, 28, 28)]
        public float[] GeneratedPixels { get; set; } = [];
        [Microsoft.ML.Transforms.Image.ImageType(28, 28)]
        public MLImage GeneratedImage { get; set; } = null!;
    }

    [TestMethod]
    public void CancelledFitReturnsTheModelSoFar()
    {
        var mlContext = new MLContext(seed: 1);
        using var cancel = new CancellationTokenSource();
        var data = PipelineFixture.Mnist(32).ToDataView(mlContext);
        var steps = new List<long>();
        var options = PipelineFixture.TinyOptions(steps: 1000);
        options.ReportInterval = 1;
        options.Progress = new SynchronousProgress<TrainingProgress>(p => { steps.Add(p.Step); if (p.Step >= 3) cancel.Cancel(); });
        options.CancellationToken = cancel.Token;
        options.CheckpointDirectory = TempPath("ckpt");   // CheckpointInterval (500) is far away: only the cancel writes one
        using var model = mlContext.Diffusion().Trainers.UViT(options).Fit(data);
        Assert.IsNotNull(model);
        CollectionAssert.AreEqual(new long[] { 1, 2, 3 }, steps, "training must stop at the step after the cancel");
        Assert.IsTrue(File.Exists(Path.Combine(options.CheckpointDirectory, "latest.ckpt")), "a cancelled run must leave its checkpoint");

        // The checkpoint is the one of step 3: resuming to 4 steps runs step 4 only.
        var resumedSteps = new List<long>();
        var resume = PipelineFixture.TinyOptions(steps: 4);
        resume.ReportInterval = 1;
        resume.CheckpointDirectory = options.CheckpointDirectory;
        resume.Progress = new SynchronousProgress<TrainingProgress>(p => resumedSteps.Add(p.Step));
        using (mlContext.Diffusion().Trainers.UViT(resume).Fit(data)) { }
        CollectionAssert.AreEqual(new long[] { 4 }, resumedSteps, "the cancelled run's checkpoint must hold step 3");
    }

    [TestMethod]
    public void FitLogsThroughMLContextLog()
    {
        var mlContext = new MLContext(seed: 1);
        var messages = new List<string>();
        mlContext.Log += (_, e) => { lock (messages) messages.Add(e.Message); };
        var options = PipelineFixture.TinyOptions(steps: 2);
        options.ReportInterval = 1;
        using var model = mlContext.Diffusion().Trainers.UViT(options).Fit(PipelineFixture.Mnist(16).ToDataView(mlContext));
        lock (messages)
        {
            Assert.IsTrue(messages.Any(m => m.Contains("U-ViT: 16 images 1x28x28, 10 classes")), string.Join("\n", messages.TakeLast(20)));
            Assert.IsTrue(messages.Any(m => m.Contains("step 2/2 loss")), string.Join("\n", messages.TakeLast(20)));
        }
    }

    [TestMethod]
    public void ResumedFitEqualsUninterruptedFit()
    {
        var mlContext = new MLContext(seed: 1);
        var data = PipelineFixture.Mnist(48).ToDataView(mlContext);
        var straightLosses = new List<float>();
        var straight = PipelineFixture.TinyOptions(steps: 8);
        straight.ReportInterval = 1;
        straight.Progress = new SynchronousProgress<TrainingProgress>(p => straightLosses.Add(p.Loss));
        using var straightModel = mlContext.Diffusion().Trainers.UViT(straight).Fit(data);

        string folder = TempPath("resume");
        var first = PipelineFixture.TinyOptions(steps: 5);
        first.CheckpointDirectory = folder;
        first.CheckpointInterval = 5;
        using (mlContext.Diffusion().Trainers.UViT(first).Fit(data)) { }

        var resumedLosses = new List<float>();
        var second = PipelineFixture.TinyOptions(steps: 8);
        second.CheckpointDirectory = folder;
        second.ReportInterval = 1;
        second.Progress = new SynchronousProgress<TrainingProgress>(p => resumedLosses.Add(p.Loss));
        using var resumedModel = mlContext.Diffusion().Trainers.UViT(second).Fit(data);

        CollectionAssert.AreEqual(straightLosses.Skip(5).ToList(), resumedLosses, "resumed losses differ from the uninterrupted run");
        var requests = PipelineFixture.Requests(mlContext, [(1, 1), (8, 2)]);
        var a = PipelineFixture.Pixels(straightModel.Transform(requests));
        var b = PipelineFixture.Pixels(resumedModel.Transform(requests));
        for (int i = 0; i < a.Count; i++) CollectionAssert.AreEqual(a[i], b[i]);
    }
}

/// <summary>IProgress that reports on the calling thread (Progress&lt;T&gt; posts to the thread pool).</summary>
internal sealed class SynchronousProgress<T>(Action<T> report) : IProgress<T>
{
    public void Report(T value) => report(value);
}
