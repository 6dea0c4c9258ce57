using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Microsoft.ML;
using UViT.MLNet.Core.Checkpoints;
using UViT.MLNet.Core.Evaluation;
using UViT.MLNet.Core.Generation;
using UViT.MLNet.Transforms.Generation;

namespace UViT.MLNet.Cli.Commands;

/// <summary>
/// Generates digits from an MNIST class model and has the digit judge read them: shared by <c>uvit judge</c> and the end of
/// <c>uvit train</c>, which use the same seeds (digit c, image i: seed + c * perClass + i), so both print the same numbers.
/// </summary>
internal static class DigitJudging
{
    /// <summary>A finished judging run: the report and what it was measured with.</summary>
    public sealed record Outcome(DigitJudgeReport Report, int PerClass, long Seed, TimeSpan GenerationTime, SamplerSettings Sampling, string JudgePath,
                                 IReadOnlyDictionary<string, string> JudgeMetadata);

    /// <summary>
    /// Refuses a model that is not a generator of 28x28 grey pixel images of the classes "0".."9" in order (what the judge
    /// reads: class c must be digit c), naming what it is.
    /// </summary>
    public static void CheckModel(UViTGenerationTransformer generator)
    {
        var config = generator.Generator.Config;
        if (generator.Generator.ClassCount != DigitJudge.ClassCount || config.InChannels != 1 || config.ImageSize != DigitJudge.ImageSize)
            throw new ArgumentException($"The digit judge reads 10-class models of {DigitJudge.ImageSize}x{DigitJudge.ImageSize} grey images (MNIST); this model makes " +
                                        $"{config.InChannels}-channel {config.ImageSize}x{config.ImageSize} images of {generator.Generator.ClassCount} classes.");
        if (!generator.ClassNames.SequenceEqual(Enumerable.Range(0, DigitJudge.ClassCount).Select(c => c.ToString(CultureInfo.InvariantCulture))))
            throw new ArgumentException($"The digit judge needs class c to be digit c; this model's classes are named {string.Join(", ", generator.ClassNames)}.");
    }

    /// <summary>Generates <paramref name="perClass"/> digits of each class with <paramref name="generator"/> and judges them.</summary>
    /// <param name="judgePath">The judge's safetensors file (e.g. the shipped one).</param>
    /// <param name="showProgress">Whether to draw the sampling progress bar on stdout.</param>
    public static Outcome Run(MLContext mlContext, ITransformer model, UViTGenerationTransformer generator, int perClass, long seed, string judgePath, bool showProgress = true)
    {
        CheckModel(generator);
        var digits = ShippedMnist.Read();
        var (referenceIndices, floorIndices) = DigitJudgeSplit.RealSets(digits.Labels, perClass);   // checks perClass first, before any sampling
        var metadata = StateDictFile.ReadSafetensorsMetadata(judgePath);
        using var judge = DigitJudge.Load(judgePath);
        var requests = Enumerable.Range(0, DigitJudge.ClassCount)
                                 .SelectMany(c => Enumerable.Range(0, perClass).Select(i => new SampleRequest(seed + c * perClass + i, c))).ToList();
        var clock = Stopwatch.StartNew();
        var samples = GenerationHelpers.Generate(mlContext, model, generator, requests, showProgress);
        clock.Stop();
        var generated = samples.Select(s => ToBytes(s.Pixels, generator.OutputRange)).ToList();
        var report = DigitJudgeReport.Create(judge, generated, requests.Select(r => r.Class).ToList(),
                                             referenceIndices.Select(i => DigitJudgeTrainer.Digit(digits.Pixels, i)).ToList(),
                                             floorIndices.Select(i => DigitJudgeTrainer.Digit(digits.Pixels, i)).ToList());
        return new Outcome(report, perClass, seed, clock.Elapsed, generator.Settings, judgePath, metadata);
    }

    /// <summary>The report as text lines (what <c>uvit judge</c> prints and <c>uvit train</c> prints at its end).</summary>
    public static IEnumerable<string> Lines(Outcome o)
    {
        var r = o.Report;
        int n = r.Count, perClass = o.PerClass;
        yield return Invariant($"judge:            {o.JudgePath} (a CNN; {(HeldOutAccuracy(o) is double a ? Invariant($"{a * 100:F2}% accurate") : "accuracy not recorded")} on its held-out real digits)");
        yield return $"sampling:         {o.Sampling.Summary}";
        yield return Invariant($"generated:        {n} digits ({perClass} per class, seeds {o.Seed}..{o.Seed + n - 1}) in {o.GenerationTime.TotalSeconds:F1} s");
        yield return Invariant($"accuracy:         {r.Accuracy * 100:F1}% read as the requested digit ({r.PerClassHits.Sum()}/{n})");
        yield return Invariant($"confidence:       mean p(requested digit) {r.MeanRequestedProbability:F3}; mean p(judge's prediction) {r.MeanPredictedProbability:F3}");
        yield return "per class:        " + string.Join(" ", r.PerClassHits.Select((h, c) => $"{c}:{h}/{r.PerClassCount[c]}"));
        yield return Invariant($"feature distance: {r.FeatureDistance:F3} (Frechet distance of the judge's 128-d features, {n} generated vs {n} real digits)");
        yield return Invariant($"real-vs-real:     {r.Floor:F3} (the floor: {n} other real digits vs the same {n}; both sets held-out digits, the first and the last {perClass} of each class)");
        yield return Invariant($"background grain: {r.BackgroundGrain:F2} (RMS level of 255 of the pixels more than {BackgroundGrain.EdgeRadius} pixels from any stroke; the real digits: {r.RealBackgroundGrain:F2})");
    }

    /// <summary>The report as one JSON object on one line, for scripts (e.g. a guidance sweep appending to a .jsonl file).</summary>
    public static string Json(Outcome o, string model)
    {
        var r = o.Report;
        return JsonSerializer.Serialize(new Dictionary<string, object?>
        {
            ["model"] = model, ["judge"] = o.JudgePath, ["judge_held_out_accuracy"] = HeldOutAccuracy(o),
            ["sampler"] = o.Sampling.Sampler.ToString(), ["ddim_eta"] = o.Sampling.DdimEta, ["steps"] = o.Sampling.Steps, ["guidance_s"] = o.Sampling.GuidanceScale,
            ["weights"] = o.Sampling.UseEmaWeights ? "EMA" : "raw",
            ["n"] = r.Count, ["per_class"] = o.PerClass, ["seed"] = o.Seed, ["generation_seconds"] = Math.Round(o.GenerationTime.TotalSeconds, 2),
            ["accuracy"] = r.Accuracy, ["mean_p_requested"] = r.MeanRequestedProbability, ["mean_p_predicted"] = r.MeanPredictedProbability,
            ["per_class_hits"] = r.PerClassHits, ["feature_distance"] = r.FeatureDistance, ["real_vs_real_floor"] = r.Floor,
            ["background_grain"] = r.BackgroundGrain, ["real_background_grain"] = r.RealBackgroundGrain,
            ["real_digits"] = $"held-out: first {o.PerClass} of each class (reference), last {o.PerClass} of each class (floor)",
        });
    }

    /// <summary>The held-out accuracy recorded in the judge file's metadata, or null when it has none.</summary>
    private static double? HeldOutAccuracy(Outcome o) =>
        double.TryParse(o.JudgeMetadata.GetValueOrDefault("held_out_accuracy"), NumberStyles.Float, CultureInfo.InvariantCulture, out double a) ? a : null;

    /// <summary>Generated pixels in the model's output range as the judge's 0..255 (out-of-range values are left for the judge to clamp).</summary>
    private static float[] ToBytes(float[] pixels, PixelRange range) => range switch
    {
        PixelRange.Bytes => pixels,
        PixelRange.Unit => pixels.Select(v => v * 255f).ToArray(),
        _ => pixels.Select(v => (v + 1f) * 127.5f).ToArray(),
    };

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
