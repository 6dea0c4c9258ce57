// How the latent transforms get and keep their autoencoder: built from a checkpoint file (any layout AutoencoderCheckpoint
// reads), and persisted inside the ML.NET model zip as the config in the main stream plus the weights of the half the
// transform uses (encoder + quant_conv, or post_quant_conv + decoder) as a safetensors side stream. Storing one half each
// keeps a zip holding both transforms at the size of one autoencoder.
using System.Text.Json;
using TorchSharp;
using UViT.MLNet.Core.Autoencoder;
using UViT.MLNet.Core.Checkpoints;
using UViT.MLNet.Core.Runtime;
using UViT.MLNet.Transforms.Persistence;
using static TorchSharp.torch;

namespace UViT.MLNet.Transforms.Latents;

internal static class LatentAutoencoderStore
{
    /// <summary>State-dict prefixes of the encoding half.</summary>
    public static readonly string[] EncoderPrefixes = ["encoder.", "quant_conv."];
    /// <summary>State-dict prefixes of the decoding half.</summary>
    public static readonly string[] DecoderPrefixes = ["post_quant_conv.", "decoder."];

    /// <summary>Builds <paramref name="config"/>, loads <paramref name="checkpointPath"/> strictly and moves it to <paramref name="device"/>, in eval mode.</summary>
    public static AutoencoderKL FromCheckpoint(string checkpointPath, AutoencoderKLConfig config, string? device, int microBatchSize)
    {
        if (!File.Exists(checkpointPath)) throw new FileNotFoundException($"Autoencoder checkpoint '{checkpointPath}' not found.", checkpointPath);
        var model = new AutoencoderKL(config) { MicroBatchSize = microBatchSize };
        try
        {
            model.LoadCheckpoint(checkpointPath);
            return Prepare(model, device);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    private static AutoencoderKL Prepare(AutoencoderKL model, string? device)
    {
        model.to(TorchRuntime.ParseDevice(device));
        model.eval();
        return model;
    }

    /// <summary>Writes the architecture and scale as the official entry shape (<c>ddconfig</c>, <c>embed_dim</c>, <c>scale_factor</c>).</summary>
    public static void WriteConfig(BinaryWriter writer, AutoencoderKLConfig config) => writer.Write(JsonSerializer.Serialize(new Dictionary<string, object>
    {
        ["ddconfig"] = config.ToOfficialDdConfig(), ["embed_dim"] = config.EmbedDim, ["scale_factor"] = config.ScaleFactor,
    }));

    /// <summary>Reads what <see cref="WriteConfig"/> wrote.</summary>
    public static AutoencoderKLConfig ReadConfig(BinaryReader reader) => AutoencoderKLConfig.FromOfficialEntry(JsonDocument.Parse(reader.ReadString()).RootElement);

    /// <summary>Writes the tensors under <paramref name="prefixes"/> as a safetensors side stream.</summary>
    public static void SaveHalf(ModelSaveWriter writer, AutoencoderKL model, string[] prefixes, string streamName)
    {
        var half = model.state_dict().Where(kv => prefixes.Any(p => kv.Key.StartsWith(p, StringComparison.Ordinal)));
        writer.SaveStream(streamName, w => WeightStream.Write(w, half));
    }

    /// <summary>
    /// Builds an autoencoder for <paramref name="config"/> and fills the half under <paramref name="prefixes"/> from the side
    /// stream; every key of that half must be there (the other half keeps its initialisation and is never used). The weights
    /// are checked against the config on the meta device (no memory) before the real autoencoder is built, so a crafted
    /// config cannot make this allocate a huge network first.
    /// </summary>
    public static AutoencoderKL LoadHalf(ModelLoadReader reader, AutoencoderKLConfig config, string[] prefixes, string streamName, string? device, int microBatchSize)
    {
        Dictionary<string, Tensor>? state = null;
        try
        {
            reader.LoadStream(streamName, r => state = WeightStream.Read(r, streamName));
            using (var shapes = new AutoencoderKL(config, new Device(TorchSharp.DeviceType.META))) CheckHalf(shapes, state!, prefixes, streamName);
            var model = new AutoencoderKL(config) { MicroBatchSize = microBatchSize };
            try
            {
                StateDictLoader.Load(model, state!, strict: false, source: streamName);
                return Prepare(model, device);
            }
            catch
            {
                model.Dispose();
                throw;
            }
        }
        finally
        {
            foreach (var t in state?.Values ?? Enumerable.Empty<Tensor>()) t.Dispose();
        }
    }

    /// <summary>Throws unless <paramref name="state"/> fits <paramref name="model"/> in shape and holds every key under <paramref name="prefixes"/> and no other.</summary>
    private static void CheckHalf(AutoencoderKL model, IReadOnlyDictionary<string, Tensor> state, string[] prefixes, string streamName)
    {
        var report = StateDictLoader.Check(model, state, strict: false, source: streamName);
        var missing = report.MissingKeys.Where(k => prefixes.Any(p => k.StartsWith(p, StringComparison.Ordinal))).ToList();
        if (missing.Count > 0 || report.UnexpectedKeys.Count > 0)
            throw new CheckpointMismatchException(streamName, missing, report.UnexpectedKeys, [], null);
    }
}
