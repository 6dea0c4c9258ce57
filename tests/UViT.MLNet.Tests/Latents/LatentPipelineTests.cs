// A latent U-ViT as one ML.NET pipeline on tiny configs (shapes from the fixture autoencoder): images -> EncodeLatents (sampled latents) -> U-ViT trainer on the
// latent column -> generation -> DecodeLatents -> images, saved as one model zip and loaded in a fresh MLContext with
// bit-identical outputs.
using Microsoft.ML;
using Microsoft.ML.Data;
using UViT.MLNet.Core.Generation;
using UViT.MLNet.Estimators;
using UViT.MLNet.Transforms.Generation;
using UViT.MLNet.Transforms.Latents;
using UViT.MLNet.Transforms.Persistence;

using UViT.MLNet.Tests.Pipeline;

namespace UViT.MLNet.Tests.Latents;

[TestClass]
public sealed class LatentPipelineTests
{
    public TestContext TestContext { get; set; } = null!;

    [TestMethod]
    public void LatentPipelineTrainsGeneratesDecodesAndRoundTripsThroughOneZip()
    {
        var mlContext = new MLContext(seed: 1);
        var data = LatentFixture.Images(mlContext, 8);
        var trainer = mlContext.Diffusion().Trainers.UViT(new UViTTrainerOptions
        {
            ImageColumnName = "Latent", InputRange = PixelRange.Symmetric, Network = LatentFixture.TinyLatentNetwork, MaxSteps = 3, BatchSize = 4, Seed = 7,
            Sampling = new SamplerSettings { Steps = 2, GuidanceScale = 1.0 }, GenerationBatchSize = 3,
        });
        var pipeline = mlContext.Transforms.EncodeLatents(LatentFixture.CheckpointPath, inputRange: PixelRange.Bytes, autoencoder: LatentFixture.Config, batchSize: 4)
            .Append(trainer)
            .Append(mlContext.Transforms.DecodeLatents(LatentFixture.CheckpointPath, autoencoder: LatentFixture.Config, batchSize: 3, microBatchSize: 2));
        using var model = pipeline.Fit(data);

        var output = model.Transform(data);
        var latent = new VectorDataViewType(NumberDataViewType.Single, LatentFixture.LatentChannels, LatentFixture.LatentSize, LatentFixture.LatentSize);
        Assert.AreEqual(latent, output.Schema["Latent"].Type);
        Assert.AreEqual(latent, output.Schema["GeneratedPixels"].Type);
        Assert.AreEqual(new VectorDataViewType(NumberDataViewType.Single, LatentFixture.Config.OutChannels, LatentFixture.Size, LatentFixture.Size), output.Schema["DecodedPixels"].Type);
        var before = PipelineFixture.Pixels(output, "DecodedPixels");
        Assert.HasCount(8, before);
        Assert.IsTrue(before.All(p => p.All(v => v is >= 0f and <= 255f)));
        if (LatentFixture.Config.OutChannels is 1 or 3)   // DecodeLatents adds its MLImage column for grey and RGB autoencoders only
            Assert.IsTrue(Images(output).All(i => i.Width == LatentFixture.Size && i.Height == LatentFixture.Size));
        else
            Assert.IsNull(output.Schema.GetColumnOrNull("DecodedImage"));

        string zip = Path.Combine(TestContext.TestRunDirectory ?? Path.GetTempPath(), Guid.NewGuid().ToString("N") + "_latent_model.zip");
        mlContext.Model.Save(model, data.Schema, zip);

        var fresh = new MLContext(seed: 99).RegisterUViT();
        var loaded = fresh.Model.Load(zip, out var inputSchema);
        Assert.AreEqual(data.Schema["Image"].Type, inputSchema["Image"].Type);
        var reloaded = loaded.Transform(LatentFixture.Images(fresh, 8));
        var after = PipelineFixture.Pixels(reloaded, "DecodedPixels");
        for (int i = 0; i < before.Count; i++) CollectionAssert.AreEqual(before[i], after[i], $"row {i}: decoded image differs after loading");
        var latentsBefore = PipelineFixture.Pixels(output, "Latent");
        var latentsAfter = PipelineFixture.Pixels(reloaded, "Latent");
        for (int i = 0; i < before.Count; i++) CollectionAssert.AreEqual(latentsBefore[i], latentsAfter[i], $"row {i}: latent differs after loading");
        (loaded as IDisposable)?.Dispose();
    }

    private static List<MLImage> Images(IDataView view)
    {
        var column = view.Schema["DecodedImage"];
        var result = new List<MLImage>();
        using var cursor = view.GetRowCursor([column]);
        var getter = cursor.GetGetter<MLImage>(column);
        MLImage image = null!;
        while (cursor.MoveNext())
        {
            getter(ref image);
            result.Add(image);
        }
        return result;
    }
}
