// Bad pipeline input fails early with messages naming the column and what was found; bad model files fail clearly.
using Microsoft.ML;
using Microsoft.ML.Data;
using UViT.MLNet.Estimators;
using UViT.MLNet.Transforms.Persistence;

namespace UViT.MLNet.Tests.Pipeline;

[TestClass]
public sealed class PipelineErrorTests
{
    public TestContext TestContext { get; set; } = null!;

    private sealed class FlatRow
    {
        [VectorType(784)] public float[] Image { get; set; } = new float[784];
        public uint Label { get; set; }
    }

    private sealed class TextLabelRow
    {
        [VectorType(1, 28, 28)] public float[] Image { get; set; } = new float[784];
        public string Label { get; set; } = "three";
    }

    [TestMethod]
    public void MissingImageColumnIsNamed()
    {
        var mlContext = new MLContext();
        var data = PipelineFixture.Mnist(8).ToDataView(mlContext, imageColumn: "Pixels");
        var error = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => mlContext.Diffusion().Trainers.UViT(PipelineFixture.TinyOptions()).Fit(data));
        StringAssert.Contains(error.Message, "'Image' not found");
        StringAssert.Contains(error.Message, "Pixels");
    }

    [TestMethod]
    public void ImageVectorWithoutDimensionsIsRejected()
    {
        var mlContext = new MLContext();
        var data = mlContext.Data.LoadFromEnumerable(new[] { new FlatRow() });
        var error = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => mlContext.Diffusion().Trainers.UViT(PipelineFixture.TinyOptions()).Fit(data));
        StringAssert.Contains(error.Message, "known dimensions [C, H, W]");
    }

    [TestMethod]
    public void NonKeyLabelIsRejectedWithAHint()
    {
        var mlContext = new MLContext();
        var data = mlContext.Data.LoadFromEnumerable(new[] { new TextLabelRow() });
        var error = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => mlContext.Diffusion().Trainers.UViT(PipelineFixture.TinyOptions()).Fit(data));
        StringAssert.Contains(error.Message, "MapValueToKey");
    }

    [TestMethod]
    public void NetworkThatDoesNotFitTheDataIsRejected()
    {
        var mlContext = new MLContext();
        var data = PipelineFixture.Mnist(8).ToDataView(mlContext);
        var options = PipelineFixture.TinyOptions();
        options.Network = PipelineFixture.TinyMnistNetwork with { ImageSize = 14 };
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentException>(() => mlContext.Diffusion().Trainers.UViT(options).Fit(data)).Message, "1x14x14");
        options.Network = PipelineFixture.TinyMnistNetwork with { NumClasses = 10 };
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentException>(() => mlContext.Diffusion().Trainers.UViT(options).Fit(data)).Message, "null class");
    }

    [TestMethod]
    public void ImageValuesOutsideTheDeclaredRangeAreRejected()
    {
        var mlContext = new MLContext();
        var data = PipelineFixture.Mnist(8).ToDataView(mlContext);
        var options = PipelineFixture.TinyOptions();
        options.InputRange = Transforms.Generation.PixelRange.Unit;   // the digits are 0-255
        StringAssert.Contains(Assert.ThrowsExactly<InvalidDataException>(() => mlContext.Diffusion().Trainers.UViT(options).Fit(data)).Message, "InputRange");
    }

    [TestMethod]
    public void GenerationChecksLabelCardinalityAndPresence()
    {
        var mlContext = new MLContext();
        using var model = mlContext.Diffusion().Trainers.UViT(PipelineFixture.TinyOptions(steps: 1)).Fit(PipelineFixture.Mnist(16).ToDataView(mlContext));
        var wrongCount = PipelineFixture.Requests(mlContext, [(1, 1)], classCount: 7);
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => model.Transform(wrongCount)).Message, "key over 7 values but the model has 10 classes");
        var noLabel = mlContext.Data.LoadFromEnumerable(new[] { new { Seed = 1L } }.Select(r => new SeedOnly { Seed = r.Seed }));
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => model.Transform(noLabel)).Message, "Label column 'Label' not found");
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => model.GetOutputSchema(noLabel.Schema)).Message, "class-conditional");
    }

    private sealed class SeedOnly
    {
        public long Seed { get; set; }
    }

    [TestMethod]
    public void TruncatedOrCorruptModelZipFailsOnLoad()
    {
        var mlContext = new MLContext();
        var data = PipelineFixture.Mnist(16).ToDataView(mlContext);
        using var model = mlContext.Diffusion().Trainers.UViT(PipelineFixture.TinyOptions(steps: 1)).Fit(data);
        string zip = Path.Combine(TestContext.TestRunDirectory ?? Path.GetTempPath(), Guid.NewGuid().ToString("N") + ".zip");
        mlContext.Model.Save(model, data.Schema, zip);
        byte[] bytes = File.ReadAllBytes(zip);

        var fresh = new MLContext().RegisterUViT();
        File.WriteAllBytes(zip, bytes[..(bytes.Length / 2)]);
        // ML.NET opens the archive before any of our code runs; its FormatException says so.
        var truncated = Assert.Throws<Exception>(() => fresh.Model.Load(zip, out _), "a truncated zip must not load");
        StringAssert.Contains(truncated.Message, "zip", StringComparison.OrdinalIgnoreCase);

        var corrupt = (byte[])bytes.Clone();
        for (int i = bytes.Length / 3; i < bytes.Length / 3 + 4096; i++) corrupt[i] ^= 0x5A;
        File.WriteAllBytes(zip, corrupt);
        var error = Assert.Throws<Exception>(() => fresh.Model.Load(zip, out _), "a corrupted zip must not load");
        TestContext.WriteLine($"corrupt zip: {error.GetType().Name}: {error.Message}");
    }
}
