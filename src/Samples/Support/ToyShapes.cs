// A toy captioned image set made on the fly: one coloured shape (circle, square or triangle; red, green, blue or yellow) on
// a light background, with three phrasings of its caption. Small enough to train a text-conditioned U-ViT on a CPU in
// minutes, and easy to judge: the colour and the shape of a generated image can be measured from its pixels.
using Microsoft.ML;
using Microsoft.ML.Data;

namespace UViT.MLNet.Samples;

/// <summary>Coloured-shape images with captions, and a judge that reads colour and shape back from pixels.</summary>
public static class ToyShapes
{
    /// <summary>Colour names and their RGB values.</summary>
    public static IReadOnlyList<(string Name, byte R, byte G, byte B)> Colours { get; } =
        [("red", 215, 40, 40), ("green", 40, 170, 60), ("blue", 40, 80, 215), ("yellow", 225, 200, 30)];

    /// <summary>Shape names.</summary>
    public static IReadOnlyList<string> Shapes { get; } = ["circle", "square", "triangle"];

    /// <summary>Background grey level.</summary>
    public const byte Background = 235;

    /// <summary>One image: planar RGB pixels [3, S, S] in 0-255, three captions, and what it shows.</summary>
    public sealed class Row
    {
        /// <summary>Planar [3, S, S] pixels, 0-255 (the layout ExtractPixels gives).</summary>
        public float[] Image { get; set; } = [];
        /// <summary>"a red circle", "a circle in red", "red circle".</summary>
        public string[] Captions { get; set; } = [];
        /// <summary>Index into <see cref="Colours"/>.</summary>
        public int Colour { get; set; }
        /// <summary>Index into <see cref="Shapes"/>.</summary>
        public int Shape { get; set; }
    }

    /// <summary>The main caption of a (colour, shape) pair: "a red circle".</summary>
    public static string Caption(int colour, int shape) => $"a {Colours[colour].Name} {Shapes[shape]}";

    /// <summary>
    /// Makes <paramref name="count"/> images of <paramref name="size"/> pixels, every (colour, shape) pair equally often. Each
    /// shape is drawn near the centre; <paramref name="jitter"/> (0 to 1) scales how far its size and position vary
    /// (0: twelve fixed images; 1: anywhere in the frame, which a small model needs many more steps to learn).
    /// </summary>
    public static List<Row> Generate(int count, int size = 16, int seed = 0, double jitter = 0.25)
    {
        if (size < 8) throw new ArgumentOutOfRangeException(nameof(size), $"Images must be at least 8 pixels; got {size}.");
        if (jitter is < 0 or > 1) throw new ArgumentOutOfRangeException(nameof(jitter), $"Jitter must lie in [0, 1]; got {jitter}.");
        var random = new Random(seed);
        var rows = new List<Row>(count);
        for (int i = 0; i < count; i++)
        {
            int colour = i % Colours.Count, shape = i / Colours.Count % Shapes.Count;
            double radius = size * (0.3 - 0.08 * jitter * random.NextDouble());
            double slack = (size / 2.0 - radius) * jitter;
            double cx = size / 2.0 + slack * (2 * random.NextDouble() - 1), cy = size / 2.0 + slack * (2 * random.NextDouble() - 1);
            rows.Add(new Row { Image = Draw(size, colour, shape, cx, cy, radius), Colour = colour, Shape = shape, Captions = Phrasings(colour, shape) });
        }
        return rows;
    }

    private static string[] Phrasings(int colour, int shape)
    {
        string c = Colours[colour].Name, s = Shapes[shape];
        return [$"a {c} {s}", $"a {s} in {c}", $"{c} {s}"];
    }

    // Rasterises one shape of "radius" r around (cx, cy): a disc, an axis-aligned square of side 1.7 r, or an upward triangle.
    private static float[] Draw(int size, int colour, int shape, double cx, double cy, double r)
    {
        var (_, red, green, blue) = Colours[colour];
        var pixels = new float[3 * size * size];
        Array.Fill(pixels, Background);
        for (int y = 0; y < size; y++)
        {
            for (int x = 0; x < size; x++)
            {
                double dx = x + 0.5 - cx, dy = y + 0.5 - cy;
                bool inside = shape switch
                {
                    0 => dx * dx + dy * dy <= r * r,
                    1 => Math.Abs(dx) <= 0.85 * r && Math.Abs(dy) <= 0.85 * r,
                    _ => dy <= 0.8 * r && dy >= -r && Math.Abs(dx) <= (dy + r) * 0.62,
                };
                if (!inside) continue;
                int at = y * size + x;
                pixels[at] = red;
                pixels[size * size + at] = green;
                pixels[2 * size * size + at] = blue;
            }
        }
        return pixels;
    }

    /// <summary>The rows as an IDataView: "Image" Vector&lt;Single, 3, S, S&gt; and "Captions" Vector&lt;Text, 3&gt;.</summary>
    public static IDataView ToDataView(MLContext mlContext, IReadOnlyList<Row> rows)
    {
        int size = (int)Math.Round(Math.Sqrt(rows[0].Image.Length / 3.0));
        var schema = SchemaDefinition.Create(typeof(Row));
        schema[nameof(Row.Image)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, 3, size, size);
        schema[nameof(Row.Captions)].ColumnType = new VectorDataViewType(TextDataViewType.Instance, 3);
        return mlContext.Data.LoadFromEnumerable(rows, schema);
    }

    /// <summary>
    /// Reads a generated image: its colour is the palette colour nearest to the mean of the pixels far from the background;
    /// its shape comes from how much of their bounding box they fill (square ~1, circle ~0.79, triangle ~0.5).
    /// Returns null when fewer than 2% of the pixels are foreground (no shape drawn).
    /// </summary>
    /// <param name="pixels">Planar [3, S, S] in 0-255.</param>
    public static (int Colour, int Shape)? Judge(float[] pixels)
    {
        int plane = pixels.Length / 3, size = (int)Math.Round(Math.Sqrt(plane));
        double sr = 0, sg = 0, sb = 0;
        int count = 0, minX = size, maxX = -1, minY = size, maxY = -1;
        for (int at = 0; at < plane; at++)
        {
            float r = pixels[at], g = pixels[plane + at], b = pixels[2 * plane + at];
            double distance = Math.Abs(r - Background) + Math.Abs(g - Background) + Math.Abs(b - Background);
            if (distance < 150) continue;
            sr += r; sg += g; sb += b; count++;
            int x = at % size, y = at / size;
            (minX, maxX, minY, maxY) = (Math.Min(minX, x), Math.Max(maxX, x), Math.Min(minY, y), Math.Max(maxY, y));
        }
        if (count < 0.02 * plane) return null;
        var (mr, mg, mb) = (sr / count, sg / count, sb / count);
        int colour = Enumerable.Range(0, Colours.Count)
            .MinBy(c => Math.Pow(Colours[c].R - mr, 2) + Math.Pow(Colours[c].G - mg, 2) + Math.Pow(Colours[c].B - mb, 2));
        double fill = count / (double)((maxX - minX + 1) * (maxY - minY + 1));
        int shape = fill > 0.9 ? 1 : fill > 0.65 ? 0 : 2;
        return (colour, shape);
    }
}
