// A model zip's saved input schema is what generation reads (label key and seed), not the training data's columns.
using Microsoft.ML;
using Microsoft.ML.Data;
using UViT.MLNet.Core.Diffusion;
using UViT.MLNet.Estimators;
using UViT.MLNet.Samples;
using UViT.MLNet.Transforms.Generation;
using UViT.MLNet.Transforms.Persistence;

namespace UViT.MLNet.Tests.Pipeline;

[TestClass]
public sealed class RequestSchemaTests
{
    public TestContext TestContext { get; set; } = null!;

    [TestMethod]
    public void ZipSavedWithTheRequestSchemaTellsWhatGenerationReads()
    {
        var mlContext = new MLContext(seed: 1);
        var data = PipelineFixture.Mnist(16).ToDataView(mlContext);
        using var model = mlContext.Diffusion().Trainers.UViT(PipelineFixture.TinyOptions(steps: 1)).Fit(data);

        var schema = model.GenerationRequestSchema();
        CollectionAssert.AreEqual(new[] { "Label", "Seed" }, schema.Select(c => c.Name).ToArray());
        Assert.AreEqual(new KeyDataViewType(typeof(uint), 10), schema["Label"].Type);
        Assert.AreEqual(NumberDataViewType.Int64, schema["Seed"].Type);
        Assert.IsNotNull(model.GetOutputSchema(schema).GetColumnOrNull(UViTColumns.GeneratedPixels), "the generator accepts its own request schema");

        string zip = Path.Combine(TestContext.TestRunDirectory ?? Path.GetTempPath(), Guid.NewGuid().ToString("N") + "_requests.zip");
        mlContext.Model.SaveAtomically(model, schema, zip);
        using var loaded = (UViTGenerationTransformer)new MLContext(seed: 2).LoadChecked(zip, out var saved);
        CollectionAssert.AreEqual(new[] { "Label", "Seed" }, saved.Select(c => c.Name).ToArray(), "no training column (Image) in the saved schema");
        Assert.AreEqual(schema["Label"].Type, saved["Label"].Type);
        Assert.AreEqual(schema["Seed"].Type, saved["Seed"].Type);
    }

    [TestMethod]
    public void ReadGeneratedReadsImagesAndPixelsInOnePass()
    {
        var mlContext = new MLContext(seed: 1);
        using var model = mlContext.Diffusion().Trainers.UViT(PipelineFixture.TinyOptions(steps: 1)).Fit(PipelineFixture.Mnist(16).ToDataView(mlContext));
        int runs = 0;
        var view = model.WithBatchSize(2).Generate(model.CreateRequests(mlContext, [(3, 5L), (7, 6L)]), new SynchronousProgress<SamplerProgress>(p => { if (p.Step == p.Total) runs++; }));
        var rows = view.ReadGenerated();
        Assert.AreEqual(1, runs, "one sampler run for both rows: images and pixels come from the same pass");
        Assert.HasCount(2, rows);
        Assert.IsTrue(rows.All(r => r.Image is { Width: 28, Height: 28 } && r.Pixels.Length == 784));
        Assert.IsTrue(view.ReadGenerated(imageColumn: null).All(r => r.Image is null));
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => view.ReadGenerated("Missing"));
    }

    [TestMethod]
    public void ModelWithoutGeneratorIsNamed()
    {
        var mlContext = new MLContext(seed: 1);
        var other = mlContext.Transforms.CopyColumns("Copy", "Image").Fit(PipelineFixture.Mnist(4).ToDataView(mlContext));
        var error = Assert.ThrowsExactly<ArgumentException>(() => other.GenerationRequestSchema());
        StringAssert.Contains(error.Message, "no U-ViT generation transformer");
    }
}
