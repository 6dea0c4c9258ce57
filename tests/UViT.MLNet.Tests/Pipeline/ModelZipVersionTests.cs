// Model zips across versions and machines: a zip in the first released format (Data/ModelZipV1, see its README) still loads
// and generates; its decoder was saved with device "cuda:0" and still loads on a CPU machine, because devices are never
// stored but chosen by the loading MLContext (GpuDeviceId, FallbackToCpu), as is the trainer's seed.
using Microsoft.ML;
using Microsoft.ML.Data;
using UViT.MLNet.Estimators;
using UViT.MLNet.Transforms.Generation;
using UViT.MLNet.Transforms.Latents;
using UViT.MLNet.Transforms.Persistence;
using UViT.MLNet.Tests.Support;

namespace UViT.MLNet.Tests.Pipeline;

[TestClass]
public sealed class ModelZipVersionTests
{
    public TestContext TestContext { get; set; } = null!;

    internal static string VersionOneZip => Path.Combine(Fixtures.RepoRoot, "tests", "UViT.MLNet.Tests", "Data", "ModelZipV1", "model.zip");

    private static IDataView Requests(MLContext mlContext) =>
        mlContext.Data.LoadFromEnumerable(new[] { new Row { Label = 1, Seed = 3 }, new Row { Label = 2, Seed = 4 } });

    [TestMethod]
    public void VersionOneZipSavedOnCudaLoadsAndGeneratesOnTheContextsDevice()
    {
        var mlContext = new MLContext(seed: 1).RegisterUViT();   // GpuDeviceId null: the CPU, whatever the zip says
        var model = mlContext.Model.Load(VersionOneZip, out var schema);
        var chain = ((IEnumerable<ITransformer>)model).ToList();
        var generator = chain.OfType<UViTGenerationTransformer>().Single();
        var decoder = chain.OfType<LatentDecodingTransformer>().Single();
        CollectionAssert.AreEqual(new[] { "a", "b", "c" }, generator.ClassNames.ToArray());
        Assert.AreEqual((2, 2, 5L), (generator.Settings.Steps, generator.BatchSize, generator.BaseSeed), "settings written by version 1 were misread");
        Assert.AreEqual("cpu", decoder.Options.Device, "the device stored in a version-1 zip was used instead of the MLContext's choice");
        Assert.IsNotNull(schema.GetColumnOrNull("Label"));
        var pixels = model.Transform(Requests(mlContext)).ReadVectors(decoder.Options.OutputColumnName);
        Assert.HasCount(2, pixels);
        Assert.AreEqual(3 * 8 * 8, pixels[0].Length);
        Assert.IsTrue(pixels.All(p => p.All(float.IsFinite)));

        // Saved again in the current format (no device), it reloads to the same images.
        string again = Path.Combine(TestContext.TestRunDirectory ?? Path.GetTempPath(), Guid.NewGuid().ToString("N") + ".zip");
        mlContext.Model.Save(model, schema, again);
        var reloaded = new MLContext(seed: 1).RegisterUViT().Model.Load(again, out _);
        var repeated = reloaded.Transform(Requests(mlContext)).ReadVectors(decoder.Options.OutputColumnName);
        for (int i = 0; i < pixels.Count; i++) CollectionAssert.AreEqual(pixels[i], repeated[i], $"row {i} differs after saving in the current format");
        (model as IDisposable)?.Dispose();
        (reloaded as IDisposable)?.Dispose();
    }

    [TestMethod]
    public void GpuDeviceIdAndFallbackToCpuChooseTheDevice()
    {
        Assert.AreEqual("cpu", ContextSettings.Device(new MLContext()));
        Assert.AreEqual("cuda:3", ContextSettings.Device(new MLContext(), "cuda:3"), "an explicit device option loses to the MLContext");
        var missing = new MLContext { GpuDeviceId = 4096, FallbackToCpu = true };
        Assert.AreEqual("cpu", ContextSettings.Device(missing), "FallbackToCpu did not fall back from a missing GPU");
        var strict = new MLContext { GpuDeviceId = 4096, FallbackToCpu = false }.RegisterUViT();
        var error = Assert.ThrowsExactly<InvalidOperationException>(() => ContextSettings.Device(strict));
        StringAssert.Contains(error.Message, "FallbackToCpu");
        var loadError = Assert.Throws<Exception>(() => strict.Model.Load(VersionOneZip, out _));
        StringAssert.Contains(Messages(loadError), "MLContext.GpuDeviceId is 4096", "loading on a missing GPU without fallback should say why");
    }

    [TestMethod]
    public void TheMLContextSeedSeedsTheTrainerUnlessTheOptionsSetOne()
    {
        List<float[]> Train(int contextSeed, long? optionSeed)
        {
            var mlContext = new MLContext(seed: contextSeed);
            var options = PipelineFixture.TinyOptions(steps: 1);
            options.Seed = optionSeed;
            using var model = mlContext.Diffusion().Trainers.UViT(options).Fit(PipelineFixture.Mnist(16).ToDataView(mlContext));
            return PipelineFixture.Pixels(model.Transform(PipelineFixture.Requests(mlContext, [(1, 5)])));
        }
        var one = Train(1, null);
        CollectionAssert.AreEqual(one[0], Train(1, null)[0], "the same MLContext seed trained different models");
        CollectionAssert.AreNotEqual(one[0], Train(2, null)[0], "MLContext seeds 1 and 2 trained the same model");
        CollectionAssert.AreEqual(Train(1, 9)[0], Train(2, 9)[0], "the options' seed did not override the MLContext's");
    }

    /// <summary>The messages of an exception and all its inner ones (ML.NET wraps loader errors).</summary>
    private static string Messages(Exception? e) => e is null ? "" : e.Message + "\n" + Messages(e.InnerException);

    private sealed class Row
    {
        public int Label { get; set; }
        public long Seed { get; set; }
    }
}
