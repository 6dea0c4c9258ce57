// Settings of the latent transforms (EncodeLatents, DecodeLatents): which columns, which value range, which autoencoder
// architecture and latent scale, how many rows per forward pass, and where the autoencoder runs.
using UViT.MLNet.Core.Autoencoder;
using UViT.MLNet.Transforms.Generation;

namespace UViT.MLNet.Transforms.Latents;

/// <summary>What <see cref="LatentEncodingTransformer"/> writes per image.</summary>
public enum LatentOutput
{
    /// <summary><c>scale * (mean + std * noise)</c> with noise seeded per row (the official <c>encode</c>): what a latent model trains on.</summary>
    SampledLatent,
    /// <summary>The posterior moments [2E, H/f, W/f] (mean, then log-variance), unscaled: what the official code caches to disk,
    /// re-sampling a latent from them every training step.</summary>
    Moments,
    /// <summary><c>scale * mean</c>: a deterministic latent without sampling noise.</summary>
    MeanLatent,
}

/// <summary>Settings of <see cref="LatentEncodingTransformer"/>.</summary>
public sealed record LatentEncodingOptions
{
    /// <summary>Vector&lt;Single, C, H, W&gt; images (planar, e.g. from ExtractPixels); H and W multiples of the downsample factor.</summary>
    public string InputColumnName { get; init; } = "Image";
    /// <summary>The Vector&lt;Single, E or 2E, H/f, W/f&gt; column added.</summary>
    public string OutputColumnName { get; init; } = "Latent";
    /// <summary>Range of the input values; the autoencoder sees [-1, 1]. ExtractPixels gives <see cref="PixelRange.Bytes"/>.</summary>
    public PixelRange InputRange { get; init; } = PixelRange.Symmetric;
    /// <summary>Latent sample (default), moments to cache, or the scaled mean.</summary>
    public LatentOutput Output { get; init; } = LatentOutput.SampledLatent;
    /// <summary>An integer column with each row's sampling seed; null (default): <see cref="BaseSeed"/> + row position.</summary>
    public string? SeedColumnName { get; init; }
    /// <summary>Seed of row 0 when there is no seed column.</summary>
    public long BaseSeed { get; init; }
    /// <summary>Rows read per forward pass.</summary>
    public int BatchSize { get; init; } = 16;
    /// <summary>Images per autoencoder call inside a batch (bounds peak memory).</summary>
    public int MicroBatchSize { get; init; } = 8;
    /// <summary>"cpu", "cuda" or "cuda:N"; null (default): the MLContext's choice (GpuDeviceId, FallbackToCpu). Not saved: a loaded model runs where its MLContext says.</summary>
    public string? Device { get; init; }
}

/// <summary>Settings of <see cref="LatentDecodingTransformer"/>.</summary>
public sealed record LatentDecodingOptions
{
    /// <summary>Vector&lt;Single, E, h, w&gt; scaled latents (e.g. a latent U-ViT's GeneratedPixels).</summary>
    public string InputColumnName { get; init; } = "GeneratedPixels";
    /// <summary>The Vector&lt;Single, C, h*f, w*f&gt; column added, in <see cref="OutputRange"/>.</summary>
    public string OutputColumnName { get; init; } = "DecodedPixels";
    /// <summary>The MLImage column added for 1- or 3-channel autoencoders; null: none.</summary>
    public string? ImageColumnName { get; init; } = "DecodedImage";
    /// <summary>Range of the output vector (decoded values are clamped to [-1, 1] first, as the official <c>unpreprocess</c>).</summary>
    public PixelRange OutputRange { get; init; } = PixelRange.Bytes;
    /// <summary>Rows read per forward pass.</summary>
    public int BatchSize { get; init; } = 16;
    /// <summary>Latents per decoder call inside a batch (the decoder is the memory-hungry half).</summary>
    public int MicroBatchSize { get; init; } = 4;
    /// <summary>"cpu", "cuda" or "cuda:N"; null (default): the MLContext's choice (GpuDeviceId, FallbackToCpu). Not saved: a loaded model runs where its MLContext says.</summary>
    public string? Device { get; init; }
}

/// <summary>Checks shared by both option sets.</summary>
internal static class LatentOptionChecks
{
    public static void CheckBatches(int batchSize, int microBatchSize)
    {
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, "BatchSize must be at least 1.");
        if (microBatchSize < 1) throw new ArgumentOutOfRangeException(nameof(microBatchSize), microBatchSize, "MicroBatchSize must be at least 1.");
    }

    /// <summary>The autoencoder config with <paramref name="scaleFactor"/> applied when given.</summary>
    public static AutoencoderKLConfig WithScale(AutoencoderKLConfig? config, double? scaleFactor)
    {
        var chosen = config ?? AutoencoderKLConfig.StableDiffusionKLF8;
        return (scaleFactor is { } s ? chosen with { ScaleFactor = s } : chosen).Validate();
    }
}
