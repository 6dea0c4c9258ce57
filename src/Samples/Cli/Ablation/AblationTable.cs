// The results of `uvit ablate` for people and for scripts: per variant, the mean and range over the seeds of the judge's
// accuracy and feature distance as a markdown table, and every run as one JSON line.
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace UViT.MLNet.Cli.Ablation;

/// <summary>One variant's runs summarised over the seeds.</summary>
internal sealed record AblationSummary(AblationVariant Variant, IReadOnlyList<AblationResult> Runs)
{
    public double MeanAccuracy => Runs.Average(r => r.Accuracy);
    public double MinAccuracy => Runs.Min(r => r.Accuracy);
    public double MaxAccuracy => Runs.Max(r => r.Accuracy);
    public double MeanDistance => Runs.Average(r => r.FeatureDistance);
    public double MinDistance => Runs.Min(r => r.FeatureDistance);
    public double MaxDistance => Runs.Max(r => r.FeatureDistance);

    /// <summary>The runs grouped by variant, in the order of <paramref name="variants"/> (variants without runs left out).</summary>
    public static IReadOnlyList<AblationSummary> Of(IReadOnlyList<AblationVariant> variants, IReadOnlyList<AblationResult> results) =>
        variants.Select(v => new AblationSummary(v, results.Where(r => r.Variant == v.Name).ToList())).Where(s => s.Runs.Count > 0).ToList();
}

/// <summary>Writes the summaries as markdown and the runs as JSON lines.</summary>
internal static class AblationTable
{
    /// <summary>
    /// A markdown table: variant, change, steps, seeds, accuracy and feature distance as "mean (min-max)", the real-vs-real
    /// floor and the training minutes per run; under it the settings the numbers were measured with.
    /// </summary>
    public static string Markdown(IReadOnlyList<AblationSummary> summaries, string settings)
    {
        var text = new StringBuilder();
        text.AppendLine("| variant | change from the baseline | steps | tokens | seeds | judge accuracy, mean (range) | feature distance, mean (range) | real-vs-real floor | training min/run |");
        text.AppendLine("|---|---|---:|---:|---:|---|---|---:|---:|");
        foreach (var s in summaries)
        {
            var steps = s.Runs.Select(r => r.Steps).Distinct();
            text.AppendLine(Invariant($"| {s.Variant.Name} | {s.Variant.Change} | {string.Join("/", steps)} | {s.Runs[0].Tokens} | {s.Runs.Count} | ") +
                                      Invariant($"{s.MeanAccuracy * 100:F1}% ({s.MinAccuracy * 100:F1}-{s.MaxAccuracy * 100:F1}) | ") +
                                      Invariant($"{s.MeanDistance:F2} ({s.MinDistance:F2}-{s.MaxDistance:F2}) | {s.Runs.Average(r => r.Floor):F2} | {s.Runs.Average(r => r.TrainSeconds) / 60:F1} |"));
        }
        text.AppendLine();
        text.AppendLine(settings);
        return text.ToString();
    }

    /// <summary>One run as one JSON object on one line.</summary>
    public static string JsonLine(AblationResult r) => JsonSerializer.Serialize(new Dictionary<string, object>
    {
        ["variant"] = r.Variant, ["seed"] = r.Seed, ["steps"] = r.Steps, ["batch_size"] = r.BatchSize, ["tokens"] = r.Tokens,
        ["parameters"] = r.Parameters, ["forward_gflops"] = r.ForwardGflops, ["n"] = r.Count, ["accuracy"] = r.Accuracy,
        ["mean_p_requested"] = r.MeanRequestedProbability, ["feature_distance"] = r.FeatureDistance, ["real_vs_real_floor"] = r.Floor,
        ["train_seconds"] = r.TrainSeconds, ["generation_seconds"] = r.GenerationSeconds,
    });

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
