// Shared pieces of the latent-transform tests: the fixture autoencoder (ch 32, ch_mult [1,2]: downsample factor 2,
// random weights), seeded random images with a key label, and a column reader.
using Microsoft.ML;
using Microsoft.ML.Data;
using UViT.MLNet.Core.Autoencoder;
using UViT.MLNet.Tests.Autoencoder;
using UViT.MLNet.Tests.Support;

namespace UViT.MLNet.Tests.Latents;

internal static class LatentFixture
{
    public static string CheckpointPath => Fixtures.UViTPath(AutoencoderFixture.Files().WeightsFile);

    public static AutoencoderKLConfig Config => AutoencoderFixture.Config();

    public const int Size = 16;

    /// <summary><paramref name="count"/> random 3x16x16 images in 0..255 with labels 0/1 (stored as keys 1/2), from a fixed seed.</summary>
    public static IDataView Images(MLContext mlContext, int count, int channels = 3, int size = Size)
    {
        var random = new Random(5);
        var rows = Enumerable.Range(0, count).Select(i => new ImageRow
        {
            Image = Enumerable.Range(0, channels * size * size).Select(_ => (float)random.Next(256)).ToArray(),
            Label = (uint)(i % 2),
        }).ToList();
        var schema = SchemaDefinition.Create(typeof(ImageRow));
        schema[nameof(ImageRow.Image)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, channels, size, size);
        schema[nameof(ImageRow.Label)].ColumnType = new KeyDataViewType(typeof(uint), 2);
        return mlContext.Data.LoadFromEnumerable(rows, schema);
    }

    public sealed class ImageRow
    {
        public float[] Image { get; set; } = [];
        public uint Label { get; set; }
    }
}
