// DecodeLatents: scaled latents back to images with a KL autoencoder's decoder (reference.md section 5), computed lazily
// one decoder run per mini-batch. Persisted inside ML.NET model zips with the decoder half of the weights.
using Microsoft.ML;
using Microsoft.ML.Runtime;
using UViT.MLNet.Core.Autoencoder;
using UViT.MLNet.Transforms.Generation;
using UViT.MLNet.Transforms.Mapping;
using UViT.MLNet.Transforms.Persistence;

namespace UViT.MLNet.Transforms.Latents;

/// <summary>
/// Adds a Vector&lt;Single, C, h*f, w*f&gt; image column in <see cref="LatentDecodingOptions.OutputRange"/> and, for 1- or
/// 3-channel autoencoders, an MLImage column, decoded from a Vector&lt;Single, E, h, w&gt; latent column. Owns its autoencoder.
/// </summary>
public sealed class LatentDecodingTransformer : BatchMappingTransformer<float[]>, IPersistentTransformer<LatentDecodingTransformer>, IDisposable
{
    static LatentDecodingTransformer() => UViTComponents.AddLoader<LatentDecodingTransformer>();

    /// <summary>The autoencoder (its config carries the latent scale factor).</summary>
    public AutoencoderKL Autoencoder { get; }
    /// <summary>Columns, range, batching and device.</summary>
    public LatentDecodingOptions Options { get; }

    /// <summary>True when an MLImage column is produced: an image column name is set and the autoencoder outputs 1 or 3 channels.</summary>
    public bool HasImageOutput => Options.ImageColumnName is not null && Autoencoder.Config.OutChannels is 1 or 3;

    /// <summary>Takes ownership of <paramref name="autoencoder"/> (it should already be on <see cref="LatentDecodingOptions.Device"/>, in eval mode).</summary>
    public LatentDecodingTransformer(AutoencoderKL autoencoder, LatentDecodingOptions options)
    {
        LatentOptionChecks.CheckBatches(options.BatchSize, options.MicroBatchSize);
        Autoencoder = autoencoder;
        Options = options;
    }

    /// <inheritdoc/>
    protected override BatchRowMapper<float[]> CreateMapper(DataViewSchema inputSchema) => new LatentDecodingMapper(this, inputSchema);

    // ------------------------------------------------------------------------------------------------ persistence

    /// <summary>Entry format inside the model zip. Version 1: settings + config in the main stream, decoder weights as a side stream.
    /// Version 2 stores no device (the loading MLContext chooses it); version 1's is read and ignored.</summary>
    public static ModelFormat Format { get; } = new("UVITLDEC", 0x00010002, 0x00010002, 0x00010001, "UViTLatentDecode", typeof(LatentDecodingTransformer).Assembly);

    private const string WeightsStream = "DecoderWeights.safetensors";

    /// <inheritdoc/>
    public override void Save(ModelSaveContext ctx)
    {
        var writer = new ModelSaveWriter(ctx, Format);
        var w = writer.Writer;
        LatentAutoencoderStore.WriteConfig(w, Autoencoder.Config);
        w.Write(Options.InputColumnName);
        w.Write(Options.OutputColumnName);
        w.Write(Options.ImageColumnName is not null);
        w.Write(Options.ImageColumnName ?? "");
        w.Write((int)Options.OutputRange);
        w.Write(Options.BatchSize);
        w.Write(Options.MicroBatchSize);
        LatentAutoencoderStore.SaveHalf(writer, Autoencoder, LatentAutoencoderStore.DecoderPrefixes, WeightsStream);
    }

    /// <inheritdoc/>
    public static LatentDecodingTransformer Load(IHostEnvironment environment, ModelLoadReader reader)
    {
        var r = reader.Reader;
        try
        {
            var config = LatentAutoencoderStore.ReadConfig(r);
            string input = r.ReadString(), output = r.ReadString();
            bool hasImage = r.ReadBoolean();
            string image = r.ReadString();
            var options = new LatentDecodingOptions
            {
                InputColumnName = input, OutputColumnName = output, ImageColumnName = hasImage ? image : null, OutputRange = (PixelRange)r.ReadInt32(),
                BatchSize = r.ReadInt32(), MicroBatchSize = r.ReadInt32(),
            };
            if (reader.VersionWritten < 0x00010002) r.ReadString();   // version 1's device, ignored: a zip saved on CUDA loads anywhere
            options = options with { Device = ContextSettings.Device(environment) };
            var model = LatentAutoencoderStore.LoadHalf(reader, config, LatentAutoencoderStore.DecoderPrefixes, WeightsStream, options.Device, options.MicroBatchSize);
            return new LatentDecodingTransformer(model, options);
        }
        catch (EndOfStreamException e)
        {
            throw new InvalidDataException("The model zip's latent-decoding entry is truncated.", e);
        }
    }

    /// <summary>Releases the autoencoder.</summary>
    public void Dispose() => Autoencoder.Dispose();
}
