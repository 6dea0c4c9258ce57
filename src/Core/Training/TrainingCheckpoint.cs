// The resumable training checkpoint: one zip (written atomically) holding everything a run needs to continue exactly.
//   network.safetensors, ema.safetensors   raw and EMA weights (official key names)
//   optimizer.bin                          AdamW state (TorchSharp format)
//   generator.bin                          the training RNG state
//   state.json                             format version, step, seed, network config, recipe, caller metadata
//   checksums.json                         SHA-256 of every other entry (format 2): a flipped byte fails the load
// Loading checks every part (checksums, config, keys, shapes, finiteness, RNG state size) before it changes the session, so
// a bad file leaves the run as it was.
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text.Json;
using TorchSharp.Modules;
using TorchSharp.PyBridge;
using UViT.MLNet.Core.Checkpoints;
using UViT.MLNet.Core.Networks;
using static TorchSharp.torch;

namespace UViT.MLNet.Core.Training;

internal static class TrainingCheckpoint
{
    private const int FormatVersion = 2;
    private const string ChecksumsEntry = "checksums.json";
    private static readonly string[] Entries = ["network.safetensors", "ema.safetensors", "optimizer.bin", "generator.bin", "state.json"];

    /// <summary>Writes the checkpoint atomically; the file it replaces is kept at <paramref name="previousPath"/> when given.</summary>
    /// <exception cref="TrainingDivergedException">The weights are not all finite: nothing is written.</exception>
    public static void Save(string path, UViTTrainingSession session, AdamW optimizer, IReadOnlyDictionary<string, string> metadata, string? previousPath)
    {
        using var scope = NewDisposeScope();                                            // the CPU copies of the weights
        var network = Contiguous(session.Network);
        var ema = Contiguous(session.EmaNetwork);
        if ((FirstNonFinite(network) ?? FirstNonFinite(ema)) is { } bad)
            throw new TrainingDivergedException($"Not saving checkpoint '{path}' at step {session.Step}: weight '{bad}' is not finite; the last good checkpoint is kept.");
        var parts = new Dictionary<string, byte[]>
        {
            ["network.safetensors"] = Bytes(s => Safetensors.SaveStateDict(s, network, leaveOpen: true)),
            ["ema.safetensors"] = Bytes(s => Safetensors.SaveStateDict(s, ema, leaveOpen: true)),
            ["optimizer.bin"] = Bytes(s => { using var w = new BinaryWriter(s, System.Text.Encoding.UTF8, leaveOpen: true); optimizer.save_state_dict(w); }),
            ["generator.bin"] = Bytes(s => { using var state = session.Random.get_state(); s.Write(state.bytes); }),
            ["state.json"] = Bytes(s => JsonSerializer.Serialize(s, new Dictionary<string, object?>
            {
                ["format"] = FormatVersion,
                ["step"] = session.Step,
                ["seed"] = session.Seed,
                ["network"] = session.Network.Config.ToOfficialArguments(),
                ["recipe"] = session.Recipe,
                ["metadata"] = metadata,
            }, new JsonSerializerOptions { WriteIndented = true })),
        };
        parts[ChecksumsEntry] = JsonSerializer.SerializeToUtf8Bytes(parts.ToDictionary(p => p.Key, p => Convert.ToHexString(SHA256.HashData(p.Value))));
        AtomicFile.Write(path, stream =>
        {
            using var zip = new ZipArchive(stream, ZipArchiveMode.Create, leaveOpen: true);
            foreach (var (name, bytes) in parts)
            {
                using var entry = zip.CreateEntry(name, CompressionLevel.NoCompression).Open();
                entry.Write(bytes);
            }
        }, previousPath);
    }

    public static (long Step, IReadOnlyDictionary<string, string> Metadata) Load(string path, UViTTrainingSession session, AdamW optimizer)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"Checkpoint '{path}' does not exist.", path);
        var owned = new List<Tensor>();                        // the file's tensors (no dispose scope: the optimiser's state must outlive this)
        try
        {
            var parts = ReadVerified(path);
            using var stateDoc = JsonDocument.Parse(parts["state.json"]);
            var state = stateDoc.RootElement;
            int format = state.GetProperty("format").GetInt32();
            if (format > FormatVersion) throw new InvalidDataException($"Checkpoint '{path}' has format {format}; this version reads up to {FormatVersion}.");
            var config = UViTConfig.FromOfficialArguments(state.GetProperty("network"));
            if (config != session.Network.Config)
                throw new InvalidDataException($"Checkpoint '{path}' holds a different network ({Describe(config)}) than this run ({Describe(session.Network.Config)}).");
            long step = state.GetProperty("step").GetInt64();
            if (step < 0) throw new InvalidDataException($"Checkpoint '{path}' is corrupt: its step is {step}.");
            var metadata = state.GetProperty("metadata").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString() ?? "");

            var network = Weights(session.Network, parts["network.safetensors"], path + "!network.safetensors", owned);
            var ema = Weights(session.EmaNetwork, parts["ema.safetensors"], path + "!ema.safetensors", owned);
            var generatorState = tensor(parts["generator.bin"], ScalarType.Byte);     // [n] bytes
            owned.Add(generatorState);
            using (var current = session.Random.get_state())
            {
                if (current.numel() != generatorState.numel())
                    throw new InvalidDataException($"Checkpoint '{path}' is corrupt: its random generator state has {generatorState.numel()} bytes, not {current.numel()}.");
            }

            // Everything is checked; only the optimiser's own reader can still refuse, so it goes first and is undone on failure.
            LoadOptimizer(optimizer, parts["optimizer.bin"], path);
            session.Random.set_state(generatorState);
            StateDictLoader.Load(session.Network, network, strict: true, path);
            StateDictLoader.Load(session.EmaNetwork, ema, strict: true, path);
            return (step, metadata);
        }
        catch (Exception e) when (e is InvalidDataException or JsonException or KeyNotFoundException or InvalidOperationException or FormatException or IOException
                                  && e is not FileNotFoundException && !e.Message.Contains(path, StringComparison.Ordinal))
        {
            throw new InvalidDataException($"Checkpoint '{path}' is truncated or corrupt: {e.Message}", e);
        }
        finally
        {
            foreach (var t in owned) t.Dispose();
        }
    }

    private static string Describe(UViTConfig c) => $"{c.InChannels}x{c.ImageSize}x{c.ImageSize}, P {c.PatchSize}, D {c.EmbedDim}, depth {c.Depth}, {c.Conditioning}";

    /// <summary>Detached, contiguous CPU copies of <paramref name="module"/>'s state (registered on the caller's dispose scope).</summary>
    private static Dictionary<string, Tensor> Contiguous(nn.Module module) =>
        module.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.detach().cpu().contiguous());

    /// <summary>The key of the first floating-point tensor holding a NaN or infinity, or null.</summary>
    private static string? FirstNonFinite(IReadOnlyDictionary<string, Tensor> state)
    {
        using var scope = NewDisposeScope();
        return state.FirstOrDefault(kv => kv.Value.is_floating_point() && !isfinite(kv.Value).all().item<bool>()).Key;
    }

    private static byte[] Bytes(Action<Stream> write)
    {
        using var buffer = new MemoryStream();
        write(buffer);
        return buffer.ToArray();
    }

    /// <summary>Every entry's bytes, each checked against its recorded SHA-256 (format 2; format-1 files have no checksums).</summary>
    private static Dictionary<string, byte[]> ReadVerified(string path)
    {
        long fileLength = new FileInfo(path).Length;
        using var zip = ZipFile.OpenRead(path);
        var parts = Entries.ToDictionary(name => name, name => ReadEntry(zip, path, name, fileLength));
        if (zip.GetEntry(ChecksumsEntry) is null)
        {
            using var state = JsonDocument.Parse(parts["state.json"]);
            if (state.RootElement.GetProperty("format").GetInt32() >= 2)
                throw new InvalidDataException($"Checkpoint '{path}' has no '{ChecksumsEntry}' entry (truncated, or not a UViT.MLNet checkpoint).");
            return parts;
        }
        var checksums = JsonSerializer.Deserialize<Dictionary<string, string>>(ReadEntry(zip, path, ChecksumsEntry, fileLength)) ?? [];
        foreach (var (name, bytes) in parts)
        {
            if (!checksums.TryGetValue(name, out var expected) || !string.Equals(expected, Convert.ToHexString(SHA256.HashData(bytes)), StringComparison.OrdinalIgnoreCase))
                throw new InvalidDataException($"Checkpoint '{path}' is corrupt: the '{name}' entry does not match its SHA-256 checksum (the file was damaged after it was written).");
        }
        return parts;
    }

    /// <summary>A safetensors entry read to tensors (added to <paramref name="owned"/>) and checked against <paramref name="module"/>.</summary>
    private static Dictionary<string, Tensor> Weights(nn.Module module, byte[] bytes, string source, List<Tensor> owned)
    {
        var stream = new MemoryStream(bytes);
        SafetensorsHeader.Validate(stream, source);
        var state = Safetensors.LoadStateDict(stream);
        owned.AddRange(state.Values);
        StateDictLoader.Check(module, state, strict: true, source);
        if (FirstNonFinite(state) is { } bad) throw new InvalidDataException($"'{source}' holds non-finite values in '{bad}' (saved from a diverged run?).");
        return state;
    }

    /// <summary>Loads the AdamW state; if its reader fails part-way, the state it had is put back.</summary>
    private static void LoadOptimizer(AdamW optimizer, byte[] bytes, string path)
    {
        var backup = Bytes(s => { using var w = new BinaryWriter(s, System.Text.Encoding.UTF8, leaveOpen: true); optimizer.save_state_dict(w); });
        try
        {
            using var reader = new BinaryReader(new MemoryStream(bytes));
            optimizer.load_state_dict(reader);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            using (var reader = new BinaryReader(new MemoryStream(backup))) optimizer.load_state_dict(reader);
            throw new InvalidDataException($"Checkpoint '{path}' has an optimiser state this run cannot use: {e.Message}", e);
        }
    }

    private static byte[] ReadEntry(ZipArchive zip, string path, string name, long fileLength)
    {
        var entry = zip.GetEntry(name) ?? throw new InvalidDataException($"Checkpoint '{path}' has no '{name}' entry (truncated, or not a UViT.MLNet checkpoint).");
        if (entry.Length < 0 || entry.Length > fileLength || entry.Length > Array.MaxLength)    // stored, not compressed: never larger than the file
            throw new InvalidDataException($"Checkpoint '{path}' is corrupt: its '{name}' entry claims {entry.Length} bytes in a file of {fileLength}.");
        using var stream = entry.Open();
        var bytes = new byte[entry.Length];
        stream.ReadExactly(bytes);
        return bytes;
    }
}
