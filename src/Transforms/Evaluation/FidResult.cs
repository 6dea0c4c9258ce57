// What one FID measurement reports: the number, how many samples it came from, the Inception Score of the same samples
// when asked for, and the settings that produced the samples - recorded beside the number because an FID means nothing
// without them (sampler, steps, guidance, EMA, checkpoint, reference statistics).
namespace UViT.MLNet.Transforms.Evaluation;

/// <summary>The result of <see cref="FidEvaluator.Evaluate"/>.</summary>
/// <param name="Fid">Frechet Inception Distance to the reference statistics (pool3 features, float64 math).</param>
/// <param name="SampleCount">Images the statistics were computed from (the paper's protocol uses 50,000).</param>
/// <param name="InceptionScore">IS mean and standard deviation over 10 splits; null unless <see cref="FidOptions.ComputeInceptionScore"/>.</param>
/// <param name="Settings">Free-form settings recorded with the number (a copy of <see cref="FidOptions.Settings"/>).</param>
public sealed record FidResult(double Fid, long SampleCount, (double Mean, double StandardDeviation)? InceptionScore, IReadOnlyDictionary<string, string> Settings)
{
    /// <summary>One line: FID, sample count, IS if present, then the settings as key=value.</summary>
    public override string ToString()
    {
        string score = InceptionScore is { } s ? FormattableString.Invariant($", IS {s.Mean:F3} +- {s.StandardDeviation:F3}") : "";
        string settings = Settings.Count == 0 ? "" : " (" + string.Join(", ", Settings.Select(kv => $"{kv.Key}={kv.Value}")) + ")";
        return FormattableString.Invariant($"FID {Fid:F4} from {SampleCount} samples{score}{settings}");
    }
}
