// EncodeLatents / DecodeLatents on the fixture autoencoder: parity with the official moments, per-row seeds independent
// of batching, latents equal to AutoencoderKL's own sampling, model-zip round trips, and schema errors that name the column.
using Microsoft.ML;
using Microsoft.ML.Data;
using UViT.MLNet.Core.Autoencoder;
using UViT.MLNet.Tests.Support;
using UViT.MLNet.Transforms.Generation;
using UViT.MLNet.Transforms.Latents;
using UViT.MLNet.Transforms.Persistence;
using static TorchSharp.torch;

using UViT.MLNet.Tests.Pipeline;

namespace UViT.MLNet.Tests.Latents;

[TestClass]
public sealed class LatentTransformTests
{
    public TestContext TestContext { get; set; } = null!;

    private string TempPath(string name) => Path.Combine(TestContext.TestRunDirectory ?? Path.GetTempPath(), Guid.NewGuid().ToString("N") + "_" + name);

    [TestMethod]
    public void MomentsMatchTheOfficialAutoencoder()
    {
        var io = Fixtures.Tensors(Autoencoder.AutoencoderFixture.Files().IoFile);
        try
        {
            var (x, official) = (io["x"], io["moments"]);                     // [N, C, H, W] in [-1, 1]; [N, 2E, H/f, W/f]
            var mlContext = new MLContext(seed: 1);
            var rows = Enumerable.Range(0, (int)x.shape[0]).Select(i => new ImageRow { Image = x[i].flatten().data<float>().ToArray() }).ToList();
            var schema = SchemaDefinition.Create(typeof(ImageRow));
            schema[nameof(ImageRow.Image)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, x.shape[1..].Select(d => (int)d).ToArray());
            var data = mlContext.Data.LoadFromEnumerable(rows, schema);
            using var encoder = mlContext.Transforms.EncodeLatents(LatentFixture.CheckpointPath, output: LatentOutput.Moments, autoencoder: LatentFixture.Config).Fit(data);
            var view = encoder.Transform(data);
            Assert.AreEqual(new VectorDataViewType(NumberDataViewType.Single, official.shape[1..].Select(d => (int)d).ToArray()), view.Schema["Latent"].Type);
            var moments = PipelineFixture.Pixels(view, "Latent");
            for (int i = 0; i < rows.Count; i++)
            {
                var expected = official[i].flatten().data<float>().ToArray();
                float worst = expected.Zip(moments[i], (a, b) => Math.Abs(a - b)).Max();
                Assert.IsLessThanOrEqualTo(Fixtures.Tolerances.Forward, worst, $"row {i}: moments differ from the official ones by {worst}");
            }
        }
        finally
        {
            foreach (var t in io.Values) t.Dispose();
        }
    }

    private sealed class ImageRow
    {
        public float[] Image { get; set; } = [];
    }

    [TestMethod]
    public void SampledLatentsDependOnlyOnImageAndRowSeed()
    {
        var mlContext = new MLContext(seed: 1);
        var data = LatentFixture.Images(mlContext, 5);
        var estimator = mlContext.Transforms.EncodeLatents(LatentFixture.CheckpointPath, new LatentEncodingOptions { InputRange = PixelRange.Bytes, BatchSize = 3, BaseSeed = 40 },
                                                           LatentFixture.Config);
        using var encoder = estimator.Fit(data);
        var batched = PipelineFixture.Pixels(encoder.Transform(data), "Latent");

        using var single = mlContext.Transforms.EncodeLatents(LatentFixture.CheckpointPath, new LatentEncodingOptions { InputRange = PixelRange.Bytes, BatchSize = 1, BaseSeed = 40 },
                                                              LatentFixture.Config).Fit(data);
        var alone = PipelineFixture.Pixels(single.Transform(data), "Latent");
        // The noise is exactly the same; libtorch's convolutions may round differently for another batch size (1 ulp seen).
        for (int i = 0; i < 5; i++)
        {
            float drift = batched[i].Zip(alone[i], (a, b) => Math.Abs(a - b)).Max();
            Assert.IsLessThanOrEqualTo(1e-5f, drift, $"row {i} changed by {drift} with the batch size");
        }
        CollectionAssert.AreNotEqual(batched[0], batched[1]);

        // Row 3 equals AutoencoderKL's own sampling with the noise of seed 40 + 3.
        var image = PipelineFixture.Pixels(data, "Image")[3];
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        int size = LatentFixture.Size, latentSize = LatentFixture.LatentSize;
        var x = tensor(image, [1, LatentFixture.Channels, size, size]) / 127.5f - 1f;                              // [1, C, H, W]
        var noise = randn([1, LatentFixture.LatentChannels, latentSize, latentSize], generator: new Generator(43)); // [1, E, H/f, W/f]
        var expected = encoder.Autoencoder.SampleLatent(encoder.Autoencoder.Moments(x), noise).flatten().data<float>().ToArray();
        float worst = expected.Zip(batched[3], (a, b) => Math.Abs(a - b)).Max();
        Assert.IsLessThanOrEqualTo(1e-6f, worst, $"the transform's latent differs from AutoencoderKL.SampleLatent by {worst}");
    }

    [TestMethod]
    public void EncodeAndDecodeRoundTripThroughAModelZip()
    {
        var mlContext = new MLContext(seed: 1);
        var data = LatentFixture.Images(mlContext, 3);
        var config = LatentFixture.Config;
        var pipeline = mlContext.Transforms.EncodeLatents(LatentFixture.CheckpointPath, inputRange: PixelRange.Bytes, autoencoder: LatentFixture.Config, batchSize: 2)
            .Append(mlContext.Transforms.DecodeLatents(LatentFixture.CheckpointPath, inputColumnName: "Latent", autoencoder: LatentFixture.Config, batchSize: 2, microBatchSize: 1));
        using var model = pipeline.Fit(data);
        var view = model.Transform(data);
        Assert.AreEqual(new VectorDataViewType(NumberDataViewType.Single, config.OutChannels, LatentFixture.Size, LatentFixture.Size), view.Schema["DecodedPixels"].Type);
        Assert.IsNotNull(view.Schema.GetColumnOrNull("DecodedImage"));
        var before = PipelineFixture.Pixels(view, "DecodedPixels");
        Assert.IsTrue(before.All(p => p.All(v => v is >= 0f and <= 255f)), "decoded bytes must lie in [0, 255]");

        string zip = TempPath("latents.zip");
        mlContext.Model.Save(model, data.Schema, zip);
        var fresh = new MLContext(seed: 5).RegisterUViT();
        var loaded = fresh.Model.Load(zip, out _);
        var after = PipelineFixture.Pixels(loaded.Transform(LatentFixture.Images(fresh, 3)), "DecodedPixels");
        for (int i = 0; i < before.Count; i++) CollectionAssert.AreEqual(before[i], after[i], $"row {i} differs after loading");
        (loaded as IDisposable)?.Dispose();
    }

    [TestMethod]
    public void SchemaErrorsNameTheColumnAndTheTypeFound()
    {
        var mlContext = new MLContext(seed: 1);
        var config = LatentFixture.Config;

        var otherChannels = LatentFixture.Images(mlContext, 1, channels: config.InChannels + 1);
        var e = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => mlContext.Transforms.EncodeLatents(LatentFixture.CheckpointPath, autoencoder: config).Fit(otherChannels));
        StringAssert.Contains(e.Message, $"'Image' has {config.InChannels + 1} channels");

        if (config.DownsampleFactor > 1)   // a one-level autoencoder takes any size
        {
            var odd = LatentFixture.Images(mlContext, 1, size: LatentFixture.Size + 1);
            e = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => mlContext.Transforms.EncodeLatents(LatentFixture.CheckpointPath, autoencoder: config).Fit(odd));
            StringAssert.Contains(e.Message, $"multiples of {config.DownsampleFactor}");
        }

        var images = LatentFixture.Images(mlContext, 1);
        var missing = mlContext.Transforms.EncodeLatents(LatentFixture.CheckpointPath, inputColumnName: "Pixels", autoencoder: config);
        e = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => missing.GetOutputSchema(Shape(images.Schema)));
        StringAssert.Contains(e.Message, "'Pixels' not found");

        var notVector = mlContext.Transforms.EncodeLatents(LatentFixture.CheckpointPath, inputColumnName: "Label", autoencoder: config);
        e = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => notVector.GetOutputSchema(Shape(images.Schema)));
        StringAssert.Contains(e.Message, "'Label' must be a known-size Vector<Single, C, H, W>");

        using var momentsEncoder = mlContext.Transforms.EncodeLatents(LatentFixture.CheckpointPath, output: LatentOutput.Moments, autoencoder: config).Fit(images);
        var moments = momentsEncoder.Transform(images);
        e = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => mlContext.Transforms.DecodeLatents(LatentFixture.CheckpointPath, inputColumnName: "Latent", autoencoder: config).Fit(moments));
        StringAssert.Contains(e.Message, "looks like moments");
    }

    // What ML.NET's internal SchemaShape.Create does: the shape an estimator chain checks before fitting.
    private static SchemaShape Shape(DataViewSchema schema) => new(schema.Select(c =>
    {
        var item = c.Type is VectorDataViewType v ? v.ItemType : c.Type;
        var kind = c.Type is VectorDataViewType vector
            ? vector.IsKnownSize ? SchemaShape.Column.VectorKind.Vector : SchemaShape.Column.VectorKind.VariableVector
            : SchemaShape.Column.VectorKind.Scalar;
        return item is KeyDataViewType ? MLNetInternals.SchemaColumn(c.Name, kind, NumberDataViewType.UInt32, true) : MLNetInternals.SchemaColumn(c.Name, kind, item, false);
    }));
}
