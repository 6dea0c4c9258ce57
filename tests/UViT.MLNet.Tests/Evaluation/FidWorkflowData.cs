// Small image data views for the FID workflow tests: random pixels as vector columns (any channel count and range) and as
// MLImage columns, and random 2048-d reference statistics. Few, small images: the Inception network resizes each to 299.
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Image;
using UViT.MLNet.Core.Evaluation;
using static TorchSharp.torch;

namespace UViT.MLNet.Tests.Evaluation;

internal static class FidWorkflowData
{
    /// <summary>Height and width of the test images (an MLImage column declares its size).</summary>
    public const int Size = 16;

    public sealed class VectorRow
    {
        public float[] Image { get; set; } = [];
    }

    public sealed class ImageRow
    {
        [ImageType(Size, Size)]
        public MLImage Image { get; set; } = null!;
    }

    /// <summary><paramref name="count"/> random byte images [C, H, W] (planar, values 0..255), from <paramref name="seed"/>.</summary>
    public static List<byte[]> RandomBytes(int count, int channels, int size, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, count).Select(_ => { var b = new byte[channels * size * size]; random.NextBytes(b); return b; }).ToList();
    }

    /// <summary>
    /// Byte k as k/128 - 1, in PixelRange.Symmetric: dyadic, so the evaluator's (v + 1) / 2 is exactly k/256 and the
    /// one-batch reference (<see cref="UnitTensor"/>) sees bit-identical inputs.
    /// </summary>
    public static float Symmetric(byte k) => k / 128f - 1f;

    /// <summary>A view with a Vector&lt;Single, C, H, W&gt; "Image" column: <paramref name="value"/> of each byte.</summary>
    public static IDataView Vectors(MLContext mlContext, IEnumerable<byte[]> images, int channels, int size, Func<byte, float> value)
    {
        var schema = SchemaDefinition.Create(typeof(VectorRow));
        schema[nameof(VectorRow.Image)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, channels, size, size);
        return mlContext.Data.LoadFromEnumerable(images.Select(b => new VectorRow { Image = b.Select(value).ToArray() }).ToList(), schema);
    }

    /// <summary>A view with an MLImage "Image" column of 3-channel planar <paramref name="images"/>.</summary>
    public static IDataView Images(MLContext mlContext, IEnumerable<byte[]> images) =>
        mlContext.Data.LoadFromEnumerable(images.Select(b => new ImageRow { Image = ToImage(b, Size) }).ToList());

    /// <summary>A planar RGB byte image as an Rgba32 MLImage.</summary>
    public static MLImage ToImage(byte[] planar, int size)
    {
        int plane = size * size;
        var rgba = new byte[4 * plane];
        for (int i = 0; i < plane; i++)
        {
            for (int k = 0; k < 3; k++) rgba[4 * i + k] = planar[k * plane + i];
            rgba[4 * i + 3] = 255;
        }
        return MLImage.CreateFromPixels(size, size, MLPixelFormat.Rgba32, rgba);
    }

    /// <summary>The 3-channel images as one [N, 3, H, W] tensor of k/256 (what <see cref="Symmetric"/> values map to).</summary>
    public static Tensor UnitTensor(IReadOnlyList<byte[]> images, int size) =>
        tensor(images.SelectMany(b => b.Select(v => v / 256f)).ToArray(), [images.Count, 3, size, size]);

    /// <summary>Statistics of random 2048-d Gaussian features: a PSD reference unrelated to the images.</summary>
    public static FeatureStatistics RandomReference(int seed)
    {
        using var scope = NewDisposeScope();
        var generator = new TorchSharp.torch.Generator((ulong)seed);
        return FeatureStatistics.FromFeatures(randn([64, FidInceptionV3.FeatureDim], ScalarType.Float64, generator: generator) * 0.1 + 0.3);
    }
}
