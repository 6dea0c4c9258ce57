// Moments caches built from an image column with the fixture autoencoder (C x Size x Size images to E x 8 x 8 latents,
// shapes from its config), and the U-ViT trainer trained from such a cache, including an exact resume.
using Microsoft.ML;
using UViT.MLNet.Core.Generation;
using UViT.MLNet.Core.Training;
using UViT.MLNet.Estimators;
using UViT.MLNet.Transforms.Generation;
using UViT.MLNet.Transforms.Latents;
using UViT.MLNet.Tests.Autoencoder;
using UViT.MLNet.Tests.Pipeline;
using static TorchSharp.torch;

namespace UViT.MLNet.Tests.Latents;

[TestClass]
public sealed class MomentsCacheTrainingTests
{
    public TestContext TestContext { get; set; } = null!;

    private string TempPath(string name) => Path.Combine(TestContext.TestRunDirectory ?? Path.GetTempPath(), Guid.NewGuid().ToString("N") + "_" + name);

    private string BuildCache(MLContext mlContext, int rows)
    {
        string path = TempPath("cache.moments");
        using var autoencoder = AutoencoderFixture.LoadModel();
        MomentsCacheBuilder.Build(LatentFixture.Images(mlContext, rows), path, autoencoder, new MomentsCacheOptions { BatchSize = 3 });
        return path;
    }

    [TestMethod]
    public void BuiltCacheHoldsTheMomentsOfEachImageAndOfItsFlip()
    {
        var mlContext = new MLContext(seed: 1);
        string path = BuildCache(mlContext, 5);
        var pixels = PipelineFixture.Pixels(LatentFixture.Images(mlContext, 5), "Image").SelectMany(p => p).Select(v => v / 127.5f - 1f).ToArray();
        using var images = tensor(pixels, [5, LatentFixture.Channels, LatentFixture.Size, LatentFixture.Size]);   // [5, C, H, W]
        using var autoencoder = AutoencoderFixture.LoadModel();
        using var noGrad = no_grad();
        using var expected = autoencoder.Moments(images);                                        // [5, 2E, 8, 8]
        using var expectedFlipped = autoencoder.Moments(images.flip(3));                         // [5, 2E, 8, 8]

        using var cache = MomentsCache.Open(path);
        Assert.AreEqual(5, cache.Count);
        int size = LatentFixture.LatentSize;
        Assert.AreEqual((2 * LatentFixture.LatentChannels, size, size, true, autoencoder.Config.ScaleFactor), (cache.Header.Channels, cache.Header.Height, cache.Header.Width, cache.Header.HasFlipped, cache.Header.ScaleFactor));
        CollectionAssert.AreEqual(new[] { "0", "1" }, cache.Header.ClassNames!.ToArray());
        long[] rows = [0, 1, 2, 3, 4];
        // The cache encodes in batches of 3, the reference in one batch of 5: convolutions may round differently (~2e-6).
        Assert.IsTrue(expected.allclose(cache.ReadMoments(rows), rtol: 1e-5, atol: 1e-5), "stored moments differ from the autoencoder's");
        Assert.IsTrue(expectedFlipped.allclose(cache.ReadMoments(rows, [true, true, true, true, true]), rtol: 1e-5, atol: 1e-5), "flipped moments differ");
        Assert.IsFalse(expected.allclose(expectedFlipped), "flipped images must give other moments");
        CollectionAssert.AreEqual(new long[] { 0, 1, 0, 1, 0 }, cache.ReadLabels(rows).data<long>().ToArray());
    }

    [TestMethod]
    public void CacheFromAMomentsColumnHoldsThatColumnsValues()
    {
        var mlContext = new MLContext(seed: 1);
        var encoded = mlContext.Transforms.EncodeLatents(LatentFixture.CheckpointPath, "Moments", inputRange: PixelRange.Bytes, output: LatentOutput.Moments,
                                                         autoencoder: LatentFixture.Config, batchSize: 2)
            .Fit(LatentFixture.Images(mlContext, 3)).Transform(LatentFixture.Images(mlContext, 3));
        string path = TempPath("from_column.moments");
        var header = MomentsCacheBuilder.BuildFromMoments(encoded, path, "Moments", LatentFixture.Config.ScaleFactor, new MomentsCacheOptions { BatchSize = 2 });
        Assert.AreEqual((3L, 2 * LatentFixture.LatentChannels, false, true), (header.Count, header.Channels, header.HasFlipped, header.HasLabels));

        using var cache = MomentsCache.Open(path);
        var column = PipelineFixture.Pixels(encoded, "Moments");
        var stored = cache.ReadMoments([0, 1, 2]).data<float>().ToArray();
        CollectionAssert.AreEqual(column.SelectMany(v => v).ToArray(), stored);
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => MomentsCacheBuilder.BuildFromMoments(encoded, path, "Image", 0.18215));
    }

    private UViTTrainerOptions Options(string cache, int steps) => new()
    {
        MomentsCachePath = cache, Network = LatentFixture.TinyLatentNetwork, MaxSteps = steps, BatchSize = 4, Seed = 7, ReportInterval = 1,
        Sampling = new SamplerSettings { Steps = 2, GuidanceScale = 1.0 }, GenerationBatchSize = 2,
    };

    [TestMethod]
    public void TrainerTrainsFromTheCacheAndResumesExactly()
    {
        var mlContext = new MLContext(seed: 1);
        string cache = BuildCache(mlContext, 8);
        var input = LatentFixture.Images(mlContext, 1);   // only passed through: the cache supplies the training data
        var straightLosses = new List<float>();
        var straight = Options(cache, 6);
        straight.Progress = new SynchronousProgress<TrainingProgress>(p => straightLosses.Add(p.Loss));
        using var straightModel = mlContext.Diffusion().Trainers.UViT(straight).Fit(input);
        Assert.HasCount(6, straightLosses);
        Assert.IsTrue(straightLosses.All(float.IsFinite));

        string folder = TempPath("ckpt");
        var first = Options(cache, 4);
        first.CheckpointDirectory = folder;
        using (mlContext.Diffusion().Trainers.UViT(first).Fit(input)) { }
        var resumedLosses = new List<float>();
        var second = Options(cache, 6);
        second.CheckpointDirectory = folder;
        second.Progress = new SynchronousProgress<TrainingProgress>(p => resumedLosses.Add(p.Loss));
        using var resumedModel = mlContext.Diffusion().Trainers.UViT(second).Fit(input);
        CollectionAssert.AreEqual(straightLosses.Skip(4).ToList(), resumedLosses, "resumed losses differ from the uninterrupted run");

        var requests = PipelineFixture.Requests(mlContext, [(0, 1), (1, 2)], classCount: 2);
        var generated = PipelineFixture.Pixels(straightModel.Transform(requests));
        Assert.HasCount(2, generated);
        Assert.IsTrue(generated.All(g => g.Length == LatentFixture.LatentChannels * LatentFixture.LatentSize * LatentFixture.LatentSize && g.All(float.IsFinite)));
        var resumed = PipelineFixture.Pixels(resumedModel.Transform(requests));
        for (int i = 0; i < generated.Count; i++) CollectionAssert.AreEqual(generated[i], resumed[i]);
    }
}
