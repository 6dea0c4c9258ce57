// A stand-in image folder for the samples that train on "your own images": coloured shapes of random size and place.
using SkiaSharp;

namespace UViT.MLNet.Samples;

/// <summary>Writes FOLDER/CLASS/NN.png images of red discs, blue squares and green triangles.</summary>
public static class ShapeFolder
{
    private static readonly (string Name, SKColor Color)[] Classes =
        [("red-discs", new SKColor(220, 40, 40)), ("blue-squares", new SKColor(40, 70, 220)), ("green-triangles", new SKColor(30, 160, 60))];

    /// <summary>
    /// Draws <paramref name="perClass"/> <paramref name="side"/> x <paramref name="side"/> PNGs of each of the first
    /// <paramref name="classes"/> shape classes into <paramref name="folder"/>/CLASS/NN.png; the same seed draws the same images.
    /// </summary>
    public static void Draw(string folder, int perClass, int seed, int side = 32, int classes = 3)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(side, 16);
        if (classes is < 1 or > 3) throw new ArgumentOutOfRangeException(nameof(classes), classes, "There are 1 to 3 shape classes.");
        var random = new Random(seed);
        int margin = side / 32;
        foreach (var (name, color) in Classes.Take(classes))
        {
            Directory.CreateDirectory(Path.Combine(folder, name));
            for (int i = 0; i < perClass; i++)
            {
                using var bitmap = new SKBitmap(side, side);
                using var canvas = new SKCanvas(bitmap);
                canvas.Clear(new SKColor(235, 232, 225));
                using var paint = new SKPaint { Color = color, IsAntialias = true };
                // Half-size and centre: the shape stays inside the image.
                int size = random.Next(side * 3 / 16, side * 11 / 32), x = random.Next(size + margin, side - size - margin), y = random.Next(size + margin, side - size - margin);
                if (name == "red-discs") canvas.DrawCircle(x, y, size, paint);
                else if (name == "blue-squares") canvas.DrawRect(x - size, y - size, 2 * size, 2 * size, paint);
                else
                {
                    using var path = new SKPath();
                    path.MoveTo(x, y - size);
                    path.LineTo(x + size, y + size);
                    path.LineTo(x - size, y + size);
                    path.Close();
                    canvas.DrawPath(path, paint);
                }
                canvas.Flush();
                using var image = SKImage.FromBitmap(bitmap);
                using var png = image.Encode(SKEncodedImageFormat.Png, 100);
                File.WriteAllBytes(Path.Combine(folder, name, $"{i:D2}.png"), png.ToArray());
            }
        }
    }
}
