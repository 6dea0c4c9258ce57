// Model-space planar samples to MLImage, shared by generation and latent decoding.
using Microsoft.ML.Data;

namespace UViT.MLNet.Transforms.Generation;

internal static class PlanarImages
{
    /// <summary>A planar [C, H, W] sample in [-1, 1] as an RGBA image (one channel = grey; values clamped).</summary>
    public static MLImage ToImage(ReadOnlySpan<float> sample, int channels, int height, int width)
    {
        int plane = height * width;
        var rgba = new byte[plane * 4];
        for (int p = 0; p < plane; p++)
        {
            for (int k = 0; k < 3; k++) rgba[p * 4 + k] = PixelRanges.ToByte(sample[(channels == 1 ? 0 : k) * plane + p]);
            rgba[p * 4 + 3] = 255;
        }
        return MLImage.CreateFromPixels(width, height, MLPixelFormat.Rgba32, rgba);
    }
}
