// What the digit judge says about a set of images, as managed arrays that outlive any tensor scope.
using static TorchSharp.torch;

namespace UViT.MLNet.Core.Evaluation;

/// <summary>The digit judge's verdict on N images.</summary>
/// <param name="Predicted">The most probable digit of each image, length N.</param>
/// <param name="Probabilities">The softmax over the ten digits, row-major [N, 10].</param>
/// <param name="Features">The 128-d features, row-major [N, 128].</param>
public sealed record DigitJudgment(int[] Predicted, float[] Probabilities, float[] Features)
{
    /// <summary>Images judged.</summary>
    public int Count => Predicted.Length;

    /// <summary>The probability the judge gives digit <paramref name="digit"/> in image <paramref name="index"/>.</summary>
    public float Probability(int index, int digit) => Probabilities[index * DigitJudge.ClassCount + digit];

    /// <summary>Mean and covariance of the features (needs at least two images), for <see cref="FrechetDistance"/>.</summary>
    public FeatureStatistics FeatureStatistics()
    {
        using var scope = NewDisposeScope();
        return Evaluation.FeatureStatistics.FromFeatures(tensor(Features, [Count, DigitJudge.FeatureDim]));   // [N, 128]
    }
}
