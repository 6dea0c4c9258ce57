// Writes generated images as one PNG grid (SkiaSharp), optionally with a caption above each row.
using Microsoft.ML.Data;
using SkiaSharp;
using UViT.MLNet.Core.Checkpoints;

using UViT.MLNet.Transforms.Generation;

namespace UViT.MLNet.Samples;

/// <summary>PNG grids of MLImages.</summary>
public static class ImageGrid
{
    /// <summary>
    /// Saves <paramref name="images"/> as a grid of <paramref name="columns"/> columns, each image scaled up by <paramref name="scale"/>
    /// (nearest neighbour, so small images stay crisp); <paramref name="rowCaptions"/>, if given, are drawn left of each row.
    /// The file is written atomically.
    /// </summary>
    public static void SavePng(string path, IReadOnlyList<MLImage> images, int columns, IReadOnlyList<string>? rowCaptions = null, int scale = 4)
    {
        if (images.Count == 0) throw new ArgumentException("No images to save.", nameof(images));
        if (columns < 1) throw new ArgumentOutOfRangeException(nameof(columns), "At least one column is needed.");
        int rows = (images.Count + columns - 1) / columns;
        int cellW = images.Max(i => i.Width) * scale, cellH = images.Max(i => i.Height) * scale;
        const int gap = 2;
        int captionWidth = rowCaptions is null ? 0 : 12 + 10 * rowCaptions.Max(c => c.Length);
        using var bitmap = new SKBitmap(captionWidth + columns * (cellW + gap) + gap, rows * (cellH + gap) + gap);
        using var canvas = new SKCanvas(bitmap);
        canvas.Clear(new SKColor(40, 40, 40));
        using var text = new SKPaint { Color = SKColors.White, TextSize = 16, IsAntialias = true, Typeface = SKTypeface.Default };
        for (int i = 0; i < images.Count; i++)
        {
            using var tile = ImagePng.ToBitmap(images[i]);
            int row = i / columns, column = i % columns;
            var target = SKRect.Create(captionWidth + gap + column * (cellW + gap), gap + row * (cellH + gap), cellW, cellH);
            using var paint = new SKPaint { FilterQuality = SKFilterQuality.None };
            canvas.DrawBitmap(tile, target, paint);
            if (rowCaptions is not null && column == 0 && row < rowCaptions.Count)
                canvas.DrawText(rowCaptions[row], 6, target.MidY + 6, text);
        }
        using var image = SKImage.FromBitmap(bitmap);
        using var png = image.Encode(SKEncodedImageFormat.Png, 100);
        AtomicFile.Write(path, stream => png.SaveTo(stream));
    }
}
