// The resumable training checkpoint: one zip (written atomically) holding everything a run needs to continue exactly.
//   network.safetensors, ema.safetensors   raw and EMA weights (official key names)
//   optimizer.bin                          AdamW state (TorchSharp format)
//   generator.bin                          the training RNG state
//   state.json                             format version, step, seed, network config, recipe, caller metadata
using System.IO.Compression;
using System.Text.Json;
using TorchSharp.Modules;
using TorchSharp.PyBridge;
using UViT.MLNet.Core.Checkpoints;
using UViT.MLNet.Core.Networks;
using static TorchSharp.torch;

namespace UViT.MLNet.Core.Training;

internal static class TrainingCheckpoint
{
    private const int FormatVersion = 1;

    public static void Save(string path, UViTTrainingSession session, AdamW optimizer, IReadOnlyDictionary<string, string> metadata)
    {
        AtomicFile.Write(path, stream =>
        {
            using var zip = new ZipArchive(stream, ZipArchiveMode.Create, leaveOpen: true);
            WriteEntry(zip, "network.safetensors", s => Safetensors.SaveStateDict(s, Contiguous(session.Network), leaveOpen: true));
            WriteEntry(zip, "ema.safetensors", s => Safetensors.SaveStateDict(s, Contiguous(session.EmaNetwork), leaveOpen: true));
            WriteEntry(zip, "optimizer.bin", s => { using var w = new BinaryWriter(s, System.Text.Encoding.UTF8, leaveOpen: true); optimizer.save_state_dict(w); });
            WriteEntry(zip, "generator.bin", s =>
            {
                using var state = session.Random.get_state();
                s.Write(state.bytes);
            });
            var json = new Dictionary<string, object?>
            {
                ["format"] = FormatVersion,
                ["step"] = session.Step,
                ["seed"] = session.Seed,
                ["network"] = session.Network.Config.ToOfficialArguments(),
                ["recipe"] = session.Recipe,
                ["metadata"] = metadata,
            };
            WriteEntry(zip, "state.json", s => JsonSerializer.Serialize(s, json, new JsonSerializerOptions { WriteIndented = true }));
        });
    }

    public static (long Step, IReadOnlyDictionary<string, string> Metadata) Load(string path, UViTTrainingSession session, AdamW optimizer)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"Checkpoint '{path}' does not exist.", path);
        try
        {
            using var zip = ZipFile.OpenRead(path);
            using var stateDoc = JsonDocument.Parse(ReadEntry(zip, path, "state.json"));
            var state = stateDoc.RootElement;
            int format = state.GetProperty("format").GetInt32();
            if (format > FormatVersion) throw new InvalidDataException($"Checkpoint '{path}' has format {format}; this version reads up to {FormatVersion}.");
            var config = UViTConfig.FromOfficialArguments(state.GetProperty("network"));
            if (config != session.Network.Config)
                throw new InvalidDataException($"Checkpoint '{path}' holds a different network ({Describe(config)}) than this run ({Describe(session.Network.Config)}).");

            LoadWeights(session.Network, ReadEntry(zip, path, "network.safetensors"), path + "!network.safetensors");
            LoadWeights(session.EmaNetwork, ReadEntry(zip, path, "ema.safetensors"), path + "!ema.safetensors");
            using (var reader = new BinaryReader(new MemoryStream(ReadEntry(zip, path, "optimizer.bin")))) optimizer.load_state_dict(reader);
            using (var generatorState = tensor(ReadEntry(zip, path, "generator.bin"), ScalarType.Byte)) session.Random.set_state(generatorState);
            var metadata = state.GetProperty("metadata").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString() ?? "");
            return (state.GetProperty("step").GetInt64(), metadata);
        }
        catch (Exception e) when (e is InvalidDataException or JsonException or KeyNotFoundException or IOException
                                  && e is not FileNotFoundException && !e.Message.Contains(path, StringComparison.Ordinal))
        {
            throw new InvalidDataException($"Checkpoint '{path}' is truncated or corrupt: {e.Message}", e);
        }
    }

    private static string Describe(UViTConfig c) => $"{c.InChannels}x{c.ImageSize}x{c.ImageSize}, P {c.PatchSize}, D {c.EmbedDim}, depth {c.Depth}, {c.Conditioning}";

    private static Dictionary<string, Tensor> Contiguous(nn.Module module) =>
        module.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.detach().cpu().contiguous());

    private static void LoadWeights(nn.Module module, byte[] bytes, string source)
    {
        var state = Safetensors.LoadStateDict(new MemoryStream(bytes));
        try { StateDictLoader.Load(module, state, strict: true, source); }
        finally { foreach (var t in state.Values) t.Dispose(); }
    }

    private static void WriteEntry(ZipArchive zip, string name, Action<Stream> write)
    {
        using var entry = zip.CreateEntry(name, CompressionLevel.NoCompression).Open();
        write(entry);
    }

    private static byte[] ReadEntry(ZipArchive zip, string path, string name)
    {
        var entry = zip.GetEntry(name) ?? throw new InvalidDataException($"Checkpoint '{path}' has no '{name}' entry (truncated, or not a UViT.MLNet checkpoint).");
        using var stream = entry.Open();
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }
}
