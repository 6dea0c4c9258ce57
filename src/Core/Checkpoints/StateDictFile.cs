// Reads and writes flat state dicts: safetensors and torch.save zip archives (the official U-ViT checkpoints' format)
// through TorchSharp.PyBridge, legacy non-zip torch.save files (pytorch-fid's Inception weights) through
// LegacyTorchSaveReader. Adds what a user needs around them: format detection by content, clear errors for
// truncated/corrupt files, unwrapping of {"state_dict": ...} containers, and atomic writes.
using System.Collections;
using System.Buffers.Binary;
using TorchSharp.PyBridge;
using UViT.MLNet.Core.Runtime;
using static TorchSharp.torch;

namespace UViT.MLNet.Core.Checkpoints;

/// <summary>The container formats <see cref="StateDictFile"/> understands.</summary>
public enum StateDictFormat
{
    /// <summary>Hugging Face safetensors.</summary>
    Safetensors,
    /// <summary>PyTorch <c>torch.save</c> zip archive (PyTorch &gt;= 1.6 default).</summary>
    TorchZip,
    /// <summary>Legacy PyTorch <c>torch.save</c> file: pickles followed by raw storages (PyTorch &lt; 1.6 default).</summary>
    TorchLegacy,
}

/// <summary>Flat state-dict files: <c>name -> tensor</c>.</summary>
public static class StateDictFile
{
    /// <summary>Tells the format from the file's first bytes (not its extension).</summary>
    /// <exception cref="InvalidDataException">The file is none of these formats (with the reason, e.g. a plain pickle).</exception>
    public static StateDictFormat Detect(string path)
    {
        using var stream = OpenForRead(path);
        Span<byte> head = stackalloc byte[9];
        int read = stream.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        if (read >= 4 && head[0] == (byte)'P' && head[1] == (byte)'K' && head[2] == 3 && head[3] == 4) return StateDictFormat.TorchZip;
        if (read >= 2 && head[0] == 0x80 && head[1] <= 5)                                // a pickle (PROTO opcode, protocol <= 5)
        {
            stream.Position = 0;
            if (LegacyTorchSaveReader.StartsWithMagicNumber(stream)) return StateDictFormat.TorchLegacy;
            throw new InvalidDataException($"'{path}' is a Python pickle but not a torch.save file: it does not begin with torch.save's " +
                                           "magic number (a plain pickle, or a truncated or corrupt file).");
        }
        if (read == 9)
        {
            ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(head);
            if (head[8] == (byte)'{')
            {
                if (headerLength + 8 > (ulong)stream.Length)
                    throw new InvalidDataException($"'{path}' is a truncated safetensors file: its header claims {headerLength} bytes but the file has {stream.Length}.");
                return StateDictFormat.Safetensors;
            }
        }
        throw new InvalidDataException($"'{path}' is neither a safetensors file nor a torch.save file, zip or legacy ({stream.Length} bytes).");
    }

    /// <summary>
    /// Reads every tensor of a flat state dict onto the CPU. A torch.save file whose top level is a container
    /// (<c>{"state_dict": {...}}</c>, <c>{"model": {...}}</c>) is unwrapped. The caller owns (and disposes) the tensors;
    /// any other tensors of the file are disposed here.
    /// </summary>
    /// <exception cref="FileNotFoundException">No such file.</exception>
    /// <exception cref="InvalidDataException">The file is truncated, corrupt, or not a state dict.</exception>
    public static Dictionary<string, Tensor> Read(string path)
    {
        TorchRuntime.EnsureLoaded();
        var format = Detect(path);
        try
        {
            if (format == StateDictFormat.Safetensors)
            {
                using (var stream = File.OpenRead(path)) SafetensorsHeader.Validate(stream, path);
                return Safetensors.LoadStateDict(path);
            }
            using var scope = NewDisposeScope();
            var table = format == StateDictFormat.TorchZip ? PyTorchUnpickler.UnpickleStateDict(path) : LegacyTorchSaveReader.Read(path);
            var state = Flatten(table, path);
            scope.MoveToOuter(state.Values.Distinct());
            return state;
        }
        catch (Exception e) when (e is not OutOfMemoryException && !(e is InvalidDataException && e.Message.Contains(path)))
        {
            // Our own errors already name the file and what is wrong; the libraries' get the file and the format added.
            throw new InvalidDataException($"'{path}' could not be read as a {format} state dict (truncated or corrupt?): {e.Message}", e);
        }
    }

    /// <summary>
    /// Writes a state dict as safetensors, atomically (temp file in the same folder, then rename), with
    /// <paramref name="metadata"/> as the header's <c>__metadata__</c> string map when given.
    /// </summary>
    public static void WriteSafetensors(string path, IReadOnlyDictionary<string, Tensor> state, IReadOnlyDictionary<string, string>? metadata = null)
    {
        TorchRuntime.EnsureLoaded();
        using var scope = NewDisposeScope();                        // the detached, CPU and contiguous copies
        var contiguous = state.ToDictionary(kv => kv.Key, kv => kv.Value.detach().cpu().contiguous());
        AtomicFile.Write(path, stream =>
        {
            if (metadata is null)
            {
                Safetensors.SaveStateDict(stream, contiguous, leaveOpen: true);
                return;
            }
            using var plain = new MemoryStream();
            Safetensors.SaveStateDict(plain, contiguous, leaveOpen: true);
            SafetensorsHeader.WriteWithMetadata(plain.GetBuffer().AsSpan(0, (int)plain.Length), metadata, stream);
        });
    }

    /// <summary>The <c>__metadata__</c> string map of a safetensors file (empty when it has none), after validating its header.</summary>
    /// <exception cref="FileNotFoundException">No such file.</exception>
    /// <exception cref="InvalidDataException">Not a valid safetensors file.</exception>
    public static Dictionary<string, string> ReadSafetensorsMetadata(string path)
    {
        using var stream = OpenForRead(path);
        return SafetensorsHeader.ReadMetadata(stream, path);
    }

    /// <summary>The flat <c>name -> tensor</c> dict of a torch.save file's top-level dict, unwrapping a container.</summary>
    private static Dictionary<string, Tensor> Flatten(Hashtable table, string path)
    {
        foreach (string container in new[] { "state_dict", "model", "module" })
        {
            if (table.Count >= 1 && table[container] is Hashtable inner && !table.Values.OfType<Tensor>().Any())
            {
                table = inner;
                break;
            }
        }
        var result = new Dictionary<string, Tensor>(table.Count);
        foreach (DictionaryEntry entry in table)
        {
            if (entry.Value is not Tensor tensor)
                throw new InvalidDataException($"'{path}' is not a flat state dict: entry '{entry.Key}' is a {entry.Value?.GetType().Name ?? "null"}, not a tensor.");
            result[(string)entry.Key] = tensor;
        }
        return result;
    }

    private static FileStream OpenForRead(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"Checkpoint file '{path}' does not exist.", path);
        return File.OpenRead(path);
    }
}
