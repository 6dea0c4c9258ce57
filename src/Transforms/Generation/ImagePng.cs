// One generated image as its own PNG, pixel for pixel (no border or scaling, unlike the samples' grids): the per-image files that
// sharded sampling writes and FID reads back.
using Microsoft.ML.Data;
using SkiaSharp;
using UViT.MLNet.Core.Checkpoints;

namespace UViT.MLNet.Transforms.Generation;

/// <summary>Writes a single MLImage as a PNG.</summary>
public static class ImagePng
{
    /// <summary>
    /// Saves <paramref name="image"/> to <paramref name="path"/> atomically (temp file + rename), so that a process killed
    /// mid-write leaves either no file or the complete one. The encoding is deterministic: equal pixels give equal bytes.
    /// </summary>
    public static void Save(string path, MLImage image)
    {
        ArgumentNullException.ThrowIfNull(image);
        using var bitmap = ToBitmap(image);
        using var encoded = SKImage.FromBitmap(bitmap);
        using var png = encoded.Encode(SKEncodedImageFormat.Png, 100);
        AtomicFile.Write(path, stream => png.SaveTo(stream));
    }

    /// <summary>An MLImage (Rgba32 or Bgra32) as a Skia bitmap, e.g. to draw it into a larger picture; the caller disposes it.</summary>
    public static SKBitmap ToBitmap(MLImage image)
    {
        ArgumentNullException.ThrowIfNull(image);
        var format = image.PixelFormat == MLPixelFormat.Bgra32 ? SKColorType.Bgra8888 : SKColorType.Rgba8888;
        var bitmap = new SKBitmap(new SKImageInfo(image.Width, image.Height, format, SKAlphaType.Unpremul));
        var pixels = image.Pixels;
        System.Runtime.InteropServices.Marshal.Copy(pixels.ToArray(), 0, bitmap.GetPixels(), pixels.Length);
        return bitmap;
    }
}
