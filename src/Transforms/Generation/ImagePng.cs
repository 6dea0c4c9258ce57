// One generated image as its own PNG, pixel for pixel (no border or scaling, unlike ImageGrid): the per-image files that
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
        using var bitmap = ImageGrid.ToBitmap(image);
        using var encoded = SKImage.FromBitmap(bitmap);
        using var png = encoded.Encode(SKEncodedImageFormat.Png, 100);
        AtomicFile.Write(path, stream => png.SaveTo(stream));
    }
}
