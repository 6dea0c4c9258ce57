// The plot of `uvit ablate`: two panels over the variants - the judge's accuracy (higher is better) and the feature distance
// to real digits (lower is better, with the real-vs-real floor dashed) - each run a dot, each variant's mean a bar.
using System.Globalization;
using SkiaSharp;
using UViT.MLNet.Core.Checkpoints;

namespace UViT.MLNet.Cli.Ablation;

/// <summary>Draws the ablation summaries as a PNG (atomically written).</summary>
internal static class AblationPlot
{
    /// <summary>Size of the PNG in pixels.</summary>
    public const int Width = 1100, Height = 520;

    private const float Left = 70, Gap = 80, Right = 70, Top = 70, Bottom = 110;   // margins and the space between the panels

    public static void Save(string path, IReadOnlyList<AblationSummary> summaries, string title)
    {
        using var bitmap = new SKBitmap(Width, Height);
        using var canvas = new SKCanvas(bitmap);
        canvas.Clear(SKColors.White);
        using var heading = new SKPaint { Color = SKColors.Black, TextSize = 18, IsAntialias = true, Typeface = SKTypeface.FromFamilyName(null, SKFontStyle.Bold) };
        canvas.DrawText(title, Left, 30, heading);

        float panelWidth = (Width - Left - Gap - Right) / 2;
        var accuracyArea = new SKRect(Left, Top, Left + panelWidth, Height - Bottom);
        var distanceArea = new SKRect(Left + panelWidth + Gap, Top, Width - Right, Height - Bottom);
        Panel(canvas, accuracyArea, summaries, "judge accuracy, % (higher is better)", r => r.Accuracy * 100, 0, 100, floor: null);
        double maxDistance = summaries.SelectMany(s => s.Runs).Max(r => Math.Max(r.FeatureDistance, r.Floor));
        double floor = summaries.SelectMany(s => s.Runs).Average(r => r.Floor);
        Panel(canvas, distanceArea, summaries, "feature distance (lower is better; dashed: real vs real)", r => r.FeatureDistance, 0, NiceCeiling(maxDistance * 1.1), floor);

        using var image = SKImage.FromBitmap(bitmap);
        using var png = image.Encode(SKEncodedImageFormat.Png, 100);
        AtomicFile.Write(path, stream => png.SaveTo(stream));
    }

    /// <summary>One panel: a y axis from <paramref name="yMin"/> to <paramref name="yMax"/>, a column per variant with a dot per run and a bar at the mean.</summary>
    private static void Panel(SKCanvas canvas, SKRect area, IReadOnlyList<AblationSummary> summaries, string label, Func<AblationResult, double> value,
                              double yMin, double yMax, double? floor)
    {
        using var grid = new SKPaint { Color = new SKColor(225, 225, 225), StrokeWidth = 1, IsAntialias = true };
        using var axis = new SKPaint { Color = SKColors.Black, StrokeWidth = 1.5f, IsAntialias = true, Style = SKPaintStyle.Stroke };
        using var text = new SKPaint { Color = new SKColor(40, 40, 40), TextSize = 13, IsAntialias = true, Typeface = SKTypeface.Default };
        using var dot = new SKPaint { Color = new SKColor(31, 119, 180, 200), IsAntialias = true, Style = SKPaintStyle.Fill };
        using var mean = new SKPaint { Color = new SKColor(214, 39, 40), StrokeWidth = 3, IsAntialias = true };
        using var range = new SKPaint { Color = new SKColor(31, 119, 180), StrokeWidth = 1.5f, IsAntialias = true };
        using var dashed = new SKPaint { Color = new SKColor(44, 160, 44), StrokeWidth = 2, IsAntialias = true, PathEffect = SKPathEffect.CreateDash([8, 6], 0) };
        float Y(double v) => area.Bottom - (float)((v - yMin) / (yMax - yMin)) * area.Height;

        for (int i = 0; i <= 5; i++)
        {
            double tick = yMin + (yMax - yMin) * i / 5;
            canvas.DrawLine(area.Left, Y(tick), area.Right, Y(tick), grid);
            string tickLabel = tick.ToString(yMax >= 10 ? "0" : "0.##", CultureInfo.InvariantCulture);
            canvas.DrawText(tickLabel, area.Left - 8 - text.MeasureText(tickLabel), Y(tick) + 5, text);
        }
        canvas.DrawRect(area, axis);
        canvas.DrawText(label, area.Left, area.Top - 12, text);
        if (floor is double f) canvas.DrawLine(area.Left, Y(f), area.Right, Y(f), dashed);

        float column = area.Width / Math.Max(1, summaries.Count);
        for (int i = 0; i < summaries.Count; i++)
        {
            float x = area.Left + column * (i + 0.5f);
            var values = summaries[i].Runs.Select(value).ToList();
            canvas.DrawLine(x, Y(values.Min()), x, Y(values.Max()), range);
            canvas.DrawLine(x - column * 0.25f, Y(values.Average()), x + column * 0.25f, Y(values.Average()), mean);
            for (int j = 0; j < values.Count; j++) canvas.DrawCircle(x + (j - (values.Count - 1) / 2f) * 6, Y(values[j]), 4, dot);
            // Variant names run downwards at 40 degrees so long names fit under narrow columns.
            canvas.Save();
            canvas.Translate(x, area.Bottom + 14);
            canvas.RotateDegrees(40);
            canvas.DrawText(summaries[i].Variant.Name, 0, 0, text);
            canvas.Restore();
        }
    }

    /// <summary>The smallest 1, 2 or 5 times a power of ten at or above <paramref name="value"/> (1 for nothing positive).</summary>
    private static double NiceCeiling(double value)
    {
        if (!(value > 0) || !double.IsFinite(value)) return 1;
        double power = Math.Pow(10, Math.Floor(Math.Log10(value)));
        return new[] { 1.0, 2.0, 5.0, 10.0 }.First(m => m * power >= value) * power;
    }
}
