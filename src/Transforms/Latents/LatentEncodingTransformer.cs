// EncodeLatents: images to the latent space of a KL autoencoder (reference.md section 5), computed lazily one
// autoencoder call per mini-batch. Persisted inside ML.NET model zips with the encoder half of the weights.
using Microsoft.ML;
using Microsoft.ML.Runtime;
using UViT.MLNet.Core.Autoencoder;
using UViT.MLNet.Transforms.Generation;
using UViT.MLNet.Transforms.Mapping;
using UViT.MLNet.Transforms.Persistence;

namespace UViT.MLNet.Transforms.Latents;

/// <summary>
/// Adds a Vector&lt;Single, E, H/f, W/f&gt; latent column (or the [2E, H/f, W/f] moments) computed from a
/// Vector&lt;Single, C, H, W&gt; image column. A sampled latent depends only on its image and its row seed, never on the batch.
/// Owns its autoencoder.
/// </summary>
public sealed class LatentEncodingTransformer : BatchMappingTransformer<EncodingRequest>, IPersistentTransformer<LatentEncodingTransformer>, IDisposable
{
    static LatentEncodingTransformer() => UViTComponents.AddLoader<LatentEncodingTransformer>();

    /// <summary>The autoencoder (its config carries the latent scale factor).</summary>
    public AutoencoderKL Autoencoder { get; }
    /// <summary>Columns, range, output kind, seeds, batching and device.</summary>
    public LatentEncodingOptions Options { get; }

    /// <summary>Takes ownership of <paramref name="autoencoder"/> (it should already be on <see cref="LatentEncodingOptions.Device"/>, in eval mode).</summary>
    public LatentEncodingTransformer(AutoencoderKL autoencoder, LatentEncodingOptions options)
    {
        LatentOptionChecks.CheckBatches(options.BatchSize, options.MicroBatchSize);
        Autoencoder = autoencoder;
        Options = options;
    }

    /// <inheritdoc/>
    protected override BatchRowMapper<EncodingRequest> CreateMapper(DataViewSchema inputSchema) => new LatentEncodingMapper(this, inputSchema);

    // ------------------------------------------------------------------------------------------------ persistence

    /// <summary>Entry format inside the model zip. Version 1: settings + config in the main stream, encoder weights as a side stream.</summary>
    public static ModelFormat Format { get; } = new("UVITLENC", 0x00010002, 0x00010002, 0x00010001, "UViTLatentEncode", typeof(LatentEncodingTransformer).Assembly);

    private const string WeightsStream = "EncoderWeights.safetensors";

    /// <inheritdoc/>
    public override void Save(ModelSaveContext ctx)
    {
        var writer = new ModelSaveWriter(ctx, Format);
        var w = writer.Writer;
        LatentAutoencoderStore.WriteConfig(w, Autoencoder.Config);
        w.Write(Options.InputColumnName);
        w.Write(Options.OutputColumnName);
        w.Write((int)Options.InputRange);
        w.Write((int)Options.Output);
        w.Write(Options.SeedColumnName is not null);
        w.Write(Options.SeedColumnName ?? "");
        w.Write(Options.BaseSeed);
        w.Write(Options.BatchSize);
        w.Write(Options.MicroBatchSize);
        LatentAutoencoderStore.SaveHalf(writer, Autoencoder, LatentAutoencoderStore.EncoderPrefixes, WeightsStream);
    }

    /// <inheritdoc/>
    public static LatentEncodingTransformer Load(IHostEnvironment environment, ModelLoadReader reader)
    {
        var r = reader.Reader;
        try
        {
            var config = LatentAutoencoderStore.ReadConfig(r);
            var options = new LatentEncodingOptions
            {
                InputColumnName = r.ReadString(), OutputColumnName = r.ReadString(), InputRange = (PixelRange)r.ReadInt32(), Output = (LatentOutput)r.ReadInt32(),
            };
            bool hasSeedColumn = r.ReadBoolean();
            string seedColumn = r.ReadString();
            options = options with
            {
                SeedColumnName = hasSeedColumn ? seedColumn : null, BaseSeed = r.ReadInt64(), BatchSize = r.ReadInt32(), MicroBatchSize = r.ReadInt32(),
            };
            if (reader.VersionWritten < 0x00010002) r.ReadString();   // version 1's device, ignored: a zip saved on CUDA loads anywhere
            options = options with { Device = ContextSettings.Device(environment) };
            var model = LatentAutoencoderStore.LoadHalf(reader, config, LatentAutoencoderStore.EncoderPrefixes, WeightsStream, options.Device, options.MicroBatchSize);
            return new LatentEncodingTransformer(model, options);
        }
        catch (EndOfStreamException e)
        {
            throw new InvalidDataException("The model zip's latent-encoding entry is truncated.", e);
        }
    }

    /// <summary>Releases the autoencoder.</summary>
    public void Dispose() => Autoencoder.Dispose();
}
