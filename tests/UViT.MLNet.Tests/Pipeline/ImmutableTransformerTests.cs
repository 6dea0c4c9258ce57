// Transformers are immutable, like ML.NET's: settings changes return new transformers, and progress and cancellation belong
// to one generation call's view, so a view made earlier never sees later changes.
using Microsoft.ML;
using UViT.MLNet.Core.Diffusion;
using UViT.MLNet.Estimators;
using UViT.MLNet.Transforms.Generation;

namespace UViT.MLNet.Tests.Pipeline;

[TestClass]
public sealed class ImmutableTransformerTests
{
    [TestMethod]
    public void NoTransformerHasAPublicSetter()
    {
        var transformers = new[] { typeof(UViTGenerationTransformer).Assembly, typeof(UViTTrainer).Assembly }
            .SelectMany(a => a.GetExportedTypes()).Where(t => typeof(ITransformer).IsAssignableFrom(t)).ToList();
        Assert.IsTrue(transformers.Count >= 4, $"found only {transformers.Count} transformer types");
        var settable = transformers.SelectMany(t => t.GetProperties()).Where(p => p.SetMethod is { IsPublic: true }).Select(p => $"{p.DeclaringType!.Name}.{p.Name}").ToList();
        Assert.AreEqual(0, settable.Count, "public setters: " + string.Join(", ", settable));
    }

    [TestMethod]
    public void WithSamplingAndWithBatchSizeLeaveTheOriginalAndItsViewsAlone()
    {
        var mlContext = new MLContext(seed: 1);
        using var model = mlContext.Diffusion().Trainers.UViT(PipelineFixture.TinyOptions(steps: 2)).Fit(PipelineFixture.Mnist(16).ToDataView(mlContext));
        var settings = model.Settings;
        var requests = PipelineFixture.Requests(mlContext, [(1, 5), (2, 6)]);
        var earlier = model.Transform(requests);
        var unguided = model.WithSampling(settings with { GuidanceScale = 0 }).WithBatchSize(1);
        Assert.AreEqual(settings, model.Settings, "WithSampling changed the original's settings");
        Assert.AreEqual(PipelineFixture.TinyOptions().GenerationBatchSize, model.BatchSize, "WithBatchSize changed the original's batch size");
        Assert.AreEqual(0, unguided.Settings.GuidanceScale);
        Assert.AreEqual(1, unguided.BatchSize);
        var before = PipelineFixture.Pixels(earlier);
        var other = PipelineFixture.Pixels(unguided.Transform(requests));
        CollectionAssert.AreEqual(before[0], PipelineFixture.Pixels(model.Transform(requests))[0], "the original's images changed after WithSampling");
        CollectionAssert.AreNotEqual(before[0], other[0], "guidance 0 and guidance 1 gave the same image");
        unguided.Dispose();
        Assert.AreEqual(2, PipelineFixture.Pixels(model.Transform(requests)).Count, "disposing the copy released the original's networks");
    }

    [TestMethod]
    public void GenerateReportsToItsOwnViewAndStopsWhenCancelled()
    {
        var mlContext = new MLContext(seed: 1);
        using var model = mlContext.Diffusion().Trainers.UViT(PipelineFixture.TinyOptions(steps: 1)).Fit(PipelineFixture.Mnist(16).ToDataView(mlContext));
        var requests = PipelineFixture.Requests(mlContext, [(1, 5), (2, 6)]);
        var reports = new List<SamplerProgress>();
        var reported = model.Generate(requests, new SynchronousProgress<SamplerProgress>(reports.Add));
        var plain = model.Transform(requests);
        Assert.AreEqual(0, reports.Count, "generation ran before the view was read");
        var withProgress = PipelineFixture.Pixels(reported);
        Assert.AreEqual((2 + model.BatchSize - 1) / model.BatchSize, reports.Count(r => r.Step == r.Total), "one finished sampler run per batch");
        Assert.IsTrue(reports.Count > reports.Count(r => r.Step == r.Total), "no per-step reports");
        int seen = reports.Count;
        CollectionAssert.AreEqual(withProgress[1], PipelineFixture.Pixels(plain)[1], "progress reporting changed the images");
        Assert.AreEqual(seen, reports.Count, "a view made by Transform reported to another call's progress");

        using var cancel = new CancellationTokenSource();
        cancel.Cancel();
        Assert.Throws<OperationCanceledException>(() => PipelineFixture.Pixels(model.Generate(requests, cancellationToken: cancel.Token)));
    }
}
