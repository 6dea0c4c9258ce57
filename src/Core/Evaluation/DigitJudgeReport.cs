// The digit judge's report on generated digits: does the model draw the digit it was asked for (accuracy, confidence, per
// class), and how far are its digits from real ones in the judge's feature space, next to what real digits score.
namespace UViT.MLNet.Core.Evaluation;

/// <summary>The digit judge's verdict on N generated digits with requested classes.</summary>
/// <param name="Count">Generated digits judged (N).</param>
/// <param name="Accuracy">Share read as the requested digit.</param>
/// <param name="MeanRequestedProbability">Mean probability the judge gives the requested digit (high only when the image shows it clearly).</param>
/// <param name="MeanPredictedProbability">Mean probability of the judge's own prediction (how sure the judge is, right or wrong).</param>
/// <param name="PerClassHits">Per requested digit 0..9: images read as that digit.</param>
/// <param name="PerClassCount">Per requested digit 0..9: images requested.</param>
/// <param name="FeatureDistance">Frechet distance between the judge features of the generated digits and of N real reference digits.</param>
/// <param name="Floor">The same distance between a second, disjoint set of N real digits and the reference: what real digits score at this N.</param>
/// <param name="BackgroundGrain">RMS level (0..255) of the generated digits' background pixels (<see cref="Evaluation.BackgroundGrain"/>): the speckle.</param>
/// <param name="RealBackgroundGrain">The same for the real reference digits (about 0: MNIST backgrounds are black).</param>
public sealed record DigitJudgeReport(int Count, double Accuracy, double MeanRequestedProbability, double MeanPredictedProbability,
                                      int[] PerClassHits, int[] PerClassCount, double FeatureDistance, double Floor,
                                      double BackgroundGrain, double RealBackgroundGrain)
{
    /// <summary>
    /// Judges <paramref name="generated"/> (requested digits <paramref name="requested"/>) and measures the feature distances
    /// against <paramref name="reference"/>; <paramref name="floorSet"/> is disjoint from the reference. All three sets hold N
    /// 28x28 images with pixels 0..255, so the distance and the floor carry the same small-sample bias.
    /// </summary>
    public static DigitJudgeReport Create(DigitJudge judge, IReadOnlyList<float[]> generated, IReadOnlyList<int> requested,
                                          IReadOnlyList<float[]> reference, IReadOnlyList<float[]> floorSet)
    {
        ArgumentNullException.ThrowIfNull(judge);
        int n = generated.Count;
        if (n < 2) throw new ArgumentException($"The digit report needs at least 2 generated digits (a covariance); got {n}.", nameof(generated));
        if (requested.Count != n) throw new ArgumentException($"{requested.Count} requested digits for {n} generated images.", nameof(requested));
        if (requested.Where(c => c is < 0 or >= DigitJudge.ClassCount).Select(c => (int?)c).FirstOrDefault() is int bad)
            throw new ArgumentException($"Requested digits lie in 0..9; got {bad}.", nameof(requested));
        if (reference.Count != n || floorSet.Count != n)
            throw new ArgumentException($"The real reference and floor sets must hold as many digits as were generated ({n}); got {reference.Count} and {floorSet.Count}.");

        var judged = judge.Judge(generated);
        var hits = new int[DigitJudge.ClassCount];
        var counts = new int[DigitJudge.ClassCount];
        double requestedProbability = 0, predictedProbability = 0;
        for (int i = 0; i < n; i++)
        {
            counts[requested[i]]++;
            if (judged.Predicted[i] == requested[i]) hits[requested[i]]++;
            requestedProbability += judged.Probability(i, requested[i]);
            predictedProbability += judged.Probability(i, judged.Predicted[i]);
        }
        var referenceStatistics = judge.Judge(reference).FeatureStatistics();
        double distance = FrechetDistance.Compute(judged.FeatureStatistics(), referenceStatistics);
        double floor = FrechetDistance.Compute(judge.Judge(floorSet).FeatureStatistics(), referenceStatistics);
        return new DigitJudgeReport(n, (double)hits.Sum() / n, requestedProbability / n, predictedProbability / n, hits, counts, distance, floor,
                                    Evaluation.BackgroundGrain.Rms(generated), Evaluation.BackgroundGrain.Rms(reference));
    }
}
