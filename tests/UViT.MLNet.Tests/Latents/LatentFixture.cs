// Shared pieces of the latent-transform tests: the fixture autoencoder (config from the manifest, random weights), image
// and latent shapes derived from that config, seeded random images with a key label, and a tiny latent U-ViT.
using Microsoft.ML;
using Microsoft.ML.Data;
using UViT.MLNet.Core.Autoencoder;
using UViT.MLNet.Core.Networks;
using UViT.MLNet.Tests.Autoencoder;
using UViT.MLNet.Tests.Support;

namespace UViT.MLNet.Tests.Latents;

internal static class LatentFixture
{
    public static string CheckpointPath => Fixtures.UViTPath(AutoencoderFixture.Files().WeightsFile);

    public static AutoencoderKLConfig Config => AutoencoderFixture.Config();

    /// <summary>Side of the latents the tests work with: small, and a multiple of the tiny networks' patch sizes (2, 4).</summary>
    public const int LatentSize = 8;

    /// <summary>Image side that the fixture autoencoder encodes to <see cref="LatentSize"/> (LatentSize x its downsample factor).</summary>
    public static int Size => LatentSize * Config.DownsampleFactor;

    /// <summary>Image channels the fixture autoencoder takes (C).</summary>
    public static int Channels => Config.InChannels;

    /// <summary>Latent channels of the fixture autoencoder (E); its moments have 2E.</summary>
    public static int LatentChannels => Config.EmbedDim;

    /// <summary>A tiny class-conditional U-ViT on the fixture's E x 8 x 8 latents: 2 classes + the null class.</summary>
    public static UViTConfig TinyLatentNetwork => new()
    {
        ImageSize = LatentSize, PatchSize = 2, InChannels = LatentChannels, EmbedDim = 32, Depth = 2, NumHeads = 2, NumClasses = 3,
    };

    /// <summary>
    /// <paramref name="count"/> random images in 0..255 with labels 0/1 (stored as keys 1/2), from a fixed seed; C x Size x Size
    /// unless <paramref name="channels"/> or <paramref name="size"/> say otherwise.
    /// </summary>
    public static IDataView Images(MLContext mlContext, int count, int? channels = null, int? size = null)
    {
        int c = channels ?? Channels, s = size ?? Size;
        var random = new Random(5);
        var rows = Enumerable.Range(0, count).Select(i => new ImageRow
        {
            Image = Enumerable.Range(0, c * s * s).Select(_ => (float)random.Next(256)).ToArray(),
            Label = (uint)(i % 2),
        }).ToList();
        var schema = SchemaDefinition.Create(typeof(ImageRow));
        schema[nameof(ImageRow.Image)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, c, s, s);
        schema[nameof(ImageRow.Label)].ColumnType = new KeyDataViewType(typeof(uint), 2);
        return mlContext.Data.LoadFromEnumerable(rows, schema);
    }

    public sealed class ImageRow
    {
        public float[] Image { get; set; } = [];
        public uint Label { get; set; }
    }
}
