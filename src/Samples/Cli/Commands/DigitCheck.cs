// An independent judge of generated digits: an ML.NET maximum-entropy classifier trained on real MNIST digits reads each
// generated image; the share read as the requested class measures whether the model draws the digit it was asked for.
using Microsoft.ML;
using Microsoft.ML.Data;
using UViT.MLNet.Samples;

namespace UViT.MLNet.Cli.Commands;

internal static class DigitCheck
{
    /// <summary>Result: the classifier's own accuracy on held-out real digits, and its agreement with the requested labels.</summary>
    public sealed record Result(double RealAccuracy, double Agreement, int[] PerClassHits, int PerClass);

    private sealed class Digit
    {
        [VectorType(784)] public float[] Features { get; set; } = [];
        public uint Label { get; set; }
    }

    private sealed class Prediction
    {
        public uint PredictedLabel { get; set; }
    }

    /// <summary>Trains on the first 8,000 real digits, measures on the last 2,000, then reads <paramref name="generated"/> (0-255 pixels).</summary>
    public static Result Run(IdxImageDataset real, IReadOnlyList<(int Class, float[] Pixels)> generated)
    {
        var mlContext = new MLContext(seed: 0);
        int pixels = real.Height * real.Width;
        var digits = Enumerable.Range(0, real.Count).Select(i => new Digit
        {
            Features = real.Pixels.AsSpan(i * pixels, pixels).ToArray().Select(b => b / 255f).ToArray(),
            Label = real.Labels[i],
        }).ToList();
        int trainCount = Math.Min(8000, real.Count * 4 / 5);
        var pipeline = mlContext.Transforms.Conversion.MapValueToKey("Key", nameof(Digit.Label))
            .Append(mlContext.MulticlassClassification.Trainers.SdcaMaximumEntropy("Key", nameof(Digit.Features), maximumNumberOfIterations: 20))
            .Append(mlContext.Transforms.Conversion.MapKeyToValue(nameof(Prediction.PredictedLabel)));
        var model = pipeline.Fit(mlContext.Data.LoadFromEnumerable(digits.Take(trainCount)));
        var engine = mlContext.Model.CreatePredictionEngine<Digit, Prediction>(model);
        double realAccuracy = digits.Skip(trainCount).Average(d => engine.Predict(d).PredictedLabel == d.Label ? 1.0 : 0.0);

        var hits = new int[10];
        foreach (var (cls, image) in generated)
        {
            var read = engine.Predict(new Digit { Features = image.Select(v => Math.Clamp(v, 0, 255) / 255f).ToArray() }).PredictedLabel;
            if (read == cls) hits[cls]++;
        }
        return new Result(realAccuracy, (double)hits.Sum() / generated.Count, hits, generated.Count / 10);
    }
}
