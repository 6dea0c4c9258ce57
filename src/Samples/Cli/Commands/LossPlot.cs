// The training-loss plot that `uvit train` and `uvit shapes` write beside their sample grid: the trainer's progress reports
// (mean loss since the previous report, every ReportInterval steps) against the step, on a log-scaled loss axis, since a
// diffusion loss falls by an order of magnitude in the first few hundred steps and then creeps.
using SkiaSharp;
using UViT.MLNet.Core.Checkpoints;
using UViT.MLNet.Estimators;

namespace UViT.MLNet.Cli.Commands;

/// <summary>Collects <see cref="TrainingProgress"/> reports and saves them as a PNG line plot.</summary>
internal sealed class LossPlot
{
    /// <summary>Size of the PNG in pixels.</summary>
    public const int Width = 800, Height = 480;

    private const float Left = 80, Right = 24, Top = 48, Bottom = 56;   // plot-area margins
    private readonly List<(long Step, float Loss)> _points = [];

    /// <summary>Records one report (non-finite or non-positive losses cannot be drawn on a log axis and are skipped).</summary>
    public void Add(TrainingProgress report)
    {
        if (float.IsFinite(report.Loss) && report.Loss > 0) _points.Add((report.Step, report.Loss));
    }

    /// <summary>Reports recorded so far.</summary>
    public int Count => _points.Count;

    /// <summary>Writes the plot (atomically); nothing when no report was recorded.</summary>
    public void Save(string path, string title)
    {
        if (_points.Count == 0) return;
        using var bitmap = new SKBitmap(Width, Height);
        using var canvas = new SKCanvas(bitmap);
        canvas.Clear(SKColors.White);
        var area = new SKRect(Left, Top, Width - Right, Height - Bottom);

        // Axes: steps from 0 to the last step; loss between decades (or 1-2-5 steps) around the data.
        long maxStep = Math.Max(1, _points.Max(p => p.Step));
        double low = Math.Log10(_points.Min(p => p.Loss)), high = Math.Log10(_points.Max(p => p.Loss));
        double yMin = Math.Floor(low * 10) / 10, yMax = Math.Ceiling(high * 10) / 10;
        if (yMax - yMin < 0.2) (yMin, yMax) = ((low + high) / 2 - 0.1, (low + high) / 2 + 0.1);   // a flat curve: +-26% around it
        float X(double step) => area.Left + (float)(step / maxStep) * area.Width;
        float Y(double loss) => area.Bottom - (float)((Math.Log10(loss) - yMin) / (yMax - yMin)) * area.Height;

        using var grid = new SKPaint { Color = new SKColor(225, 225, 225), StrokeWidth = 1, IsAntialias = true };
        using var axis = new SKPaint { Color = SKColors.Black, StrokeWidth = 1.5f, IsAntialias = true, Style = SKPaintStyle.Stroke };
        using var text = new SKPaint { Color = new SKColor(40, 40, 40), TextSize = 14, IsAntialias = true, Typeface = SKTypeface.Default };
        using var heading = new SKPaint { Color = SKColors.Black, TextSize = 18, IsAntialias = true, Typeface = SKTypeface.FromFamilyName(null, SKFontStyle.Bold) };

        foreach (double loss in LossTicks(yMin, yMax))
        {
            float y = Y(loss);
            canvas.DrawLine(area.Left, y, area.Right, y, grid);
            string label = loss.ToString(loss >= 0.01 ? "0.##" : "0.###E+0", System.Globalization.CultureInfo.InvariantCulture);
            canvas.DrawText(label, area.Left - 8 - text.MeasureText(label), y + 5, text);
        }
        foreach (long step in StepTicks(maxStep))
        {
            float x = X(step);
            canvas.DrawLine(x, area.Top, x, area.Bottom, grid);
            string label = step.ToString("N0", System.Globalization.CultureInfo.InvariantCulture);
            canvas.DrawText(label, x - text.MeasureText(label) / 2, area.Bottom + 20, text);
        }
        canvas.DrawRect(area, axis);

        using var line = new SKPaint { Color = new SKColor(31, 119, 180), StrokeWidth = 2, IsAntialias = true, Style = SKPaintStyle.Stroke, StrokeJoin = SKStrokeJoin.Round };
        using var dot = new SKPaint { Color = new SKColor(31, 119, 180), IsAntialias = true, Style = SKPaintStyle.Fill };
        using (var curve = new SKPath())
        {
            curve.MoveTo(X(_points[0].Step), Y(_points[0].Loss));
            foreach (var (step, loss) in _points.Skip(1)) curve.LineTo(X(step), Y(loss));
            canvas.DrawPath(curve, line);
        }
        if (_points.Count <= 50) foreach (var (step, loss) in _points) canvas.DrawCircle(X(step), Y(loss), 3, dot);

        canvas.DrawText(title, Left, 30, heading);
        const string xLabel = "optimiser step";
        canvas.DrawText(xLabel, area.MidX - text.MeasureText(xLabel) / 2, Height - 12, text);
        canvas.Save();
        canvas.RotateDegrees(-90);
        const string yLabel = "loss (mean per report, log scale)";
        canvas.DrawText(yLabel, -area.MidY - text.MeasureText(yLabel) / 2, 18, text);
        canvas.Restore();

        using var image = SKImage.FromBitmap(bitmap);
        using var png = image.Encode(SKEncodedImageFormat.Png, 100);
        AtomicFile.Write(path, stream => png.SaveTo(stream));
    }

    /// <summary>
    /// Round loss values inside [10^lo, 10^hi]: 1, 2 and 5 times powers of ten; every digit when that gives fewer than three;
    /// only the powers of ten when it gives more than ten.
    /// </summary>
    private static IEnumerable<double> LossTicks(double lo, double hi)
    {
        List<double> Ticks(double[] mantissas) =>
            Enumerable.Range((int)Math.Floor(lo), (int)Math.Ceiling(hi) - (int)Math.Floor(lo) + 1)
                .SelectMany(decade => mantissas.Select(m => m * Math.Pow(10, decade)))
                .Where(v => Math.Log10(v) >= lo - 1e-9 && Math.Log10(v) <= hi + 1e-9).ToList();
        var ticks = Ticks([1, 2, 5]);
        if (ticks.Count < 3) ticks = Ticks([1, 2, 3, 4, 5, 6, 7, 8, 9]);
        if (ticks.Count > 10) ticks = Ticks([1]);
        if (ticks.Count < 2) ticks = [Math.Pow(10, lo), Math.Pow(10, hi)];
        return ticks;
    }

    /// <summary>About five round step values from 0 to <paramref name="maxStep"/>.</summary>
    private static IEnumerable<long> StepTicks(long maxStep)
    {
        double raw = maxStep / 5.0, power = Math.Pow(10, Math.Floor(Math.Log10(raw)));
        long spacing = Math.Max(1, (long)(new[] { 1.0, 2.0, 2.5, 5.0, 10.0 }.First(m => m * power >= raw) * power));
        for (long step = 0; step <= maxStep; step += spacing) yield return step;
    }
}
