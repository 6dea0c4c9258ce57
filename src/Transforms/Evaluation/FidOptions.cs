// Settings of an FID pass: which column holds the images and how to read it, batching, device, whether the Inception Score
// is computed from the same features, and the caller's settings to record beside the result.
using UViT.MLNet.Transforms.Generation;

namespace UViT.MLNet.Transforms.Evaluation;

/// <summary>Options of <see cref="FidEvaluator"/>.</summary>
public sealed record FidOptions
{
    /// <summary>The image column: a Vector&lt;Single, C, H, W&gt; with C = 1 (replicated to RGB) or 3, or an MLImage column.</summary>
    public string ImageColumnName { get; init; } = "Image";

    /// <summary>Range of a vector column's values (ExtractPixels: <see cref="PixelRange.Bytes"/>); MLImage columns are always bytes.</summary>
    public PixelRange InputRange { get; init; } = PixelRange.Bytes;

    /// <summary>Images per Inception call: memory grows with it (each image is resized to 299x299).</summary>
    public int BatchSize { get; init; } = 50;

    /// <summary>
    /// Also compute the Inception Score (unbiased logits, 10 splits) from the same pass. This keeps 1008 floats per image
    /// (about 200 MB for 50,000 images), since the score's splits need all of them; the images themselves are never held.
    /// </summary>
    public bool ComputeInceptionScore { get; init; }

    /// <summary>Where the Inception network runs ("cpu", "cuda", "cuda:1").</summary>
    public string Device { get; init; } = "cpu";

    /// <summary>Free-form settings copied into <see cref="FidResult.Settings"/> (sampler, steps, guidance, EMA, checkpoint, ...).</summary>
    public IReadOnlyDictionary<string, string> Settings { get; init; } = new Dictionary<string, string>();
}

/// <summary>Progress of an FID pass: images done, and the total when the data view knows its row count.</summary>
public readonly record struct FidProgress(long Done, long? Total);
