// The trivial estimators of the latent transforms, in ML.NET's style: GetOutputSchema checks the input column when the
// pipeline is built; Fit loads the autoencoder checkpoint and returns the transformer (nothing is learned).
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using Microsoft.ML.Transforms.Image;
using UViT.MLNet.Core.Autoencoder;
using UViT.MLNet.Transforms.Persistence;

namespace UViT.MLNet.Transforms.Latents;

/// <summary>Estimator of <see cref="LatentEncodingTransformer"/>: images to latents (or moments) with a KL autoencoder checkpoint.</summary>
public sealed class LatentEncodingEstimator : IEstimator<LatentEncodingTransformer>
{
    private readonly string _checkpointPath;

    /// <param name="environment">The MLContext (our model-zip loaders are registered with it).</param>
    /// <param name="checkpointPath">Autoencoder weights: safetensors or torch.save; CompVis, latent-diffusion or diffusers layout.</param>
    /// <param name="autoencoder">Architecture and latent scale factor of the checkpoint.</param>
    /// <param name="options">Columns, range, output kind, seeds, batching, device (null: the MLContext's GpuDeviceId / FallbackToCpu).</param>
    public LatentEncodingEstimator(IHostEnvironment environment, string checkpointPath, AutoencoderKLConfig autoencoder, LatentEncodingOptions options)
    {
        ArgumentNullException.ThrowIfNull(environment);
        LatentOptionChecks.CheckBatches(options.BatchSize, options.MicroBatchSize);
        UViTComponents.Register(environment);
        (_checkpointPath, Autoencoder, Options) = (checkpointPath, autoencoder.Validate(), options with { Device = ContextSettings.Device(environment, options.Device) });
    }

    /// <summary>The autoencoder architecture and scale factor.</summary>
    public AutoencoderKLConfig Autoencoder { get; }
    /// <summary>The transform's settings.</summary>
    public LatentEncodingOptions Options { get; }

    /// <summary>Needs the image column (a known-size vector of Single); adds the latent column. Channels and sizes are checked by Fit.</summary>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        LatentColumns.CheckShape(inputSchema, Options.InputColumnName, "Image");
        var columns = inputSchema.ToDictionary(c => c.Name);
        columns[Options.OutputColumnName] = MLNetInternals.SchemaColumn(Options.OutputColumnName, SchemaShape.Column.VectorKind.Vector, NumberDataViewType.Single, false);
        return new SchemaShape(columns.Values);
    }

    /// <summary>Loads the checkpoint and checks <paramref name="input"/>'s schema (channels, sizes) against it.</summary>
    public LatentEncodingTransformer Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var transformer = new LatentEncodingTransformer(LatentAutoencoderStore.FromCheckpoint(_checkpointPath, Autoencoder, Options.Device, Options.MicroBatchSize), Options);
        try
        {
            transformer.GetOutputSchema(input.Schema);
            return transformer;
        }
        catch
        {
            transformer.Dispose();
            throw;
        }
    }
}

/// <summary>Estimator of <see cref="LatentDecodingTransformer"/>: latents to images with a KL autoencoder checkpoint.</summary>
public sealed class LatentDecodingEstimator : IEstimator<LatentDecodingTransformer>
{
    private readonly string _checkpointPath;

    /// <param name="environment">The MLContext (our model-zip loaders are registered with it).</param>
    /// <param name="checkpointPath">Autoencoder weights: safetensors or torch.save; CompVis, latent-diffusion or diffusers layout.</param>
    /// <param name="autoencoder">Architecture and latent scale factor of the checkpoint.</param>
    /// <param name="options">Columns, range, batching, device (null: the MLContext's GpuDeviceId / FallbackToCpu).</param>
    public LatentDecodingEstimator(IHostEnvironment environment, string checkpointPath, AutoencoderKLConfig autoencoder, LatentDecodingOptions options)
    {
        ArgumentNullException.ThrowIfNull(environment);
        LatentOptionChecks.CheckBatches(options.BatchSize, options.MicroBatchSize);
        UViTComponents.Register(environment);
        (_checkpointPath, Autoencoder, Options) = (checkpointPath, autoencoder.Validate(), options with { Device = ContextSettings.Device(environment, options.Device) });
    }

    /// <summary>The autoencoder architecture and scale factor.</summary>
    public AutoencoderKLConfig Autoencoder { get; }
    /// <summary>The transform's settings.</summary>
    public LatentDecodingOptions Options { get; }

    /// <summary>Needs the latent column (a known-size vector of Single); adds the image vector and, for 1 or 3 channels, the MLImage column.</summary>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        LatentColumns.CheckShape(inputSchema, Options.InputColumnName, "Latent");
        var columns = inputSchema.ToDictionary(c => c.Name);
        columns[Options.OutputColumnName] = MLNetInternals.SchemaColumn(Options.OutputColumnName, SchemaShape.Column.VectorKind.Vector, NumberDataViewType.Single, false);
        if (Options.ImageColumnName is { } image && Autoencoder.OutChannels is 1 or 3)
            columns[image] = MLNetInternals.SchemaColumn(image, SchemaShape.Column.VectorKind.Scalar, new ImageDataViewType(), false);
        return new SchemaShape(columns.Values);
    }

    /// <summary>Loads the checkpoint and checks <paramref name="input"/>'s schema (latent channels) against it.</summary>
    public LatentDecodingTransformer Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var transformer = new LatentDecodingTransformer(LatentAutoencoderStore.FromCheckpoint(_checkpointPath, Autoencoder, Options.Device, Options.MicroBatchSize), Options);
        try
        {
            transformer.GetOutputSchema(input.Schema);
            return transformer;
        }
        catch
        {
            transformer.Dispose();
            throw;
        }
    }
}
