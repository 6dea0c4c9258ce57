// `mlContext.Transforms.EncodeLatents(...)` / `DecodeLatents(...)`: the latent transforms in ML.NET's catalog style,
// next to ML.NET's own image transforms (LoadImages, ResizeImages, ExtractPixels).
using Microsoft.ML;
using UViT.MLNet.Core.Autoencoder;
using UViT.MLNet.Transforms.Generation;
using UViT.MLNet.Transforms.Persistence;

namespace UViT.MLNet.Transforms.Latents;

/// <summary>Catalog methods of the latent transforms; they also register UViT.MLNet's model-zip loaders with the MLContext.</summary>
public static class LatentCatalog
{
    /// <summary>
    /// Encodes a Vector&lt;Single, C, H, W&gt; image column into the latent space of a KL autoencoder.
    /// </summary>
    /// <param name="catalog">mlContext.Transforms.</param>
    /// <param name="checkpointPath">Autoencoder weights (e.g. the official autoencoder_kl.pth, or a diffusers VAE).</param>
    /// <param name="outputColumnName">The latent column added: Vector&lt;Single, E, H/f, W/f&gt; ([2E, ..] for moments).</param>
    /// <param name="inputColumnName">The image column.</param>
    /// <param name="inputRange">Range of the image values (ExtractPixels: <see cref="PixelRange.Bytes"/>).</param>
    /// <param name="output">A sampled latent (default), the moments (to cache), or the scaled mean.</param>
    /// <param name="autoencoder">Architecture (default Stable Diffusion's KL-f8).</param>
    /// <param name="scaleFactor">Latent scale; null: the config's (0.18215 for KL-f8; 0.23010 for the MS-COCO models).</param>
    /// <param name="seed">Seed of row 0; row i draws its sample with seed + i.</param>
    /// <param name="batchSize">Rows per autoencoder call.</param>
    /// <param name="device">"cpu", "cuda" or "cuda:N"; null: the MLContext's GpuDeviceId / FallbackToCpu.</param>
    public static LatentEncodingEstimator EncodeLatents(this TransformsCatalog catalog, string checkpointPath, string outputColumnName = "Latent",
        string inputColumnName = "Image", PixelRange inputRange = PixelRange.Symmetric, LatentOutput output = LatentOutput.SampledLatent,
        AutoencoderKLConfig? autoencoder = null, double? scaleFactor = null, long seed = 0, int batchSize = 16, string? device = null) =>
        catalog.EncodeLatents(checkpointPath, new LatentEncodingOptions
        {
            OutputColumnName = outputColumnName, InputColumnName = inputColumnName, InputRange = inputRange, Output = output,
            BaseSeed = seed, BatchSize = batchSize, Device = device,
        }, autoencoder, scaleFactor);

    /// <summary>Encodes images into latents with full options.</summary>
    public static LatentEncodingEstimator EncodeLatents(this TransformsCatalog catalog, string checkpointPath, LatentEncodingOptions options,
        AutoencoderKLConfig? autoencoder = null, double? scaleFactor = null) =>
        new(MLNetInternals.Environment(catalog), checkpointPath, LatentOptionChecks.WithScale(autoencoder, scaleFactor), options);

    /// <summary>
    /// Decodes a Vector&lt;Single, E, h, w&gt; latent column into a Vector&lt;Single, C, h*f, w*f&gt; image column (and an MLImage column).
    /// </summary>
    /// <param name="catalog">mlContext.Transforms.</param>
    /// <param name="checkpointPath">Autoencoder weights.</param>
    /// <param name="outputColumnName">The image vector added, in <paramref name="outputRange"/>.</param>
    /// <param name="inputColumnName">The latent column (a latent U-ViT's "GeneratedPixels").</param>
    /// <param name="imageColumnName">The MLImage column added (1- or 3-channel autoencoders); null: none.</param>
    /// <param name="outputRange">Range of the image vector.</param>
    /// <param name="autoencoder">Architecture (default Stable Diffusion's KL-f8).</param>
    /// <param name="scaleFactor">Latent scale; null: the config's.</param>
    /// <param name="batchSize">Rows per decoder run.</param>
    /// <param name="microBatchSize">Latents per decoder call inside a run (bounds memory).</param>
    /// <param name="device">"cpu", "cuda" or "cuda:N"; null: the MLContext's GpuDeviceId / FallbackToCpu.</param>
    public static LatentDecodingEstimator DecodeLatents(this TransformsCatalog catalog, string checkpointPath, string outputColumnName = "DecodedPixels",
        string inputColumnName = "GeneratedPixels", string? imageColumnName = "DecodedImage", PixelRange outputRange = PixelRange.Bytes,
        AutoencoderKLConfig? autoencoder = null, double? scaleFactor = null, int batchSize = 16, int microBatchSize = 4, string? device = null) =>
        catalog.DecodeLatents(checkpointPath, new LatentDecodingOptions
        {
            OutputColumnName = outputColumnName, InputColumnName = inputColumnName, ImageColumnName = imageColumnName, OutputRange = outputRange,
            BatchSize = batchSize, MicroBatchSize = microBatchSize, Device = device,
        }, autoencoder, scaleFactor);

    /// <summary>Decodes latents into images with full options.</summary>
    public static LatentDecodingEstimator DecodeLatents(this TransformsCatalog catalog, string checkpointPath, LatentDecodingOptions options,
        AutoencoderKLConfig? autoencoder = null, double? scaleFactor = null) =>
        new(MLNetInternals.Environment(catalog), checkpointPath, LatentOptionChecks.WithScale(autoencoder, scaleFactor), options);
}
