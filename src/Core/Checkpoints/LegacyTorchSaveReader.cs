// Reads legacy (PyTorch < 1.6 default, non-zip) torch.save files, such as pytorch-fid's pt_inception-2015-12-05-6726825d.pth.
// Provenance: PyTorch torch/serialization.py `_legacy_save` / `_legacy_load`. Such a file is five pickles in a row - the magic
// number, the protocol version (1001), system info (byte order, type sizes), the saved object, the list of storage keys -
// then, for each key in that order, an int64 element count and the storage's raw little-endian elements.
// Deviations: tensors load onto the CPU whatever device they were saved from (as with map_location="cpu"); big-endian files
// and the storage views of old PyTorch versions are refused with a message.
using System.Buffers.Binary;
using System.Collections;
using System.Globalization;
using System.Numerics;
using Razorvine.Pickle;
using static TorchSharp.torch;

namespace UViT.MLNet.Core.Checkpoints;

/// <summary>Reads a legacy torch.save file into its saved dict, with every tensor on the CPU.</summary>
internal static class LegacyTorchSaveReader
{
    private static readonly BigInteger MagicNumber = BigInteger.Parse("01950a86a20f9469cfc6c", NumberStyles.HexNumber);
    private const int ProtocolVersion = 1001;

    /// <summary>Bytes enough for the magic-number pickle: 15 at pickle protocol 2, 24 with protocol 4's frame.</summary>
    private const int HeadLength = 64;

    /// <summary>Storage bytes are read straight into the tensor in pieces of at most this many bytes (a Span holds &lt; 2 GiB).</summary>
    private const long ChunkBytes = 1L << 28;

    /// <summary>True when <paramref name="stream"/> begins with the magic-number pickle of a legacy torch.save file.</summary>
    public static bool StartsWithMagicNumber(Stream stream)
    {
        var head = new byte[HeadLength];
        int read = stream.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        using var unpickler = new Unpickler();
        try
        {
            return unpickler.loads(head.AsMemory(0, read)) is BigInteger number && number == MagicNumber;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            return false;                                      // any other pickle, or one cut short: not this magic number
        }
    }

    /// <summary>
    /// Reads the file's saved object, which must be a dict (a state dict or a container of one); its tensors, at any depth
    /// of nested dicts, are strided views as saved (tensors that shared a storage still do). The caller owns the tensors.
    /// </summary>
    /// <exception cref="InvalidDataException">The file is truncated or corrupt, or holds something this reader does not support.</exception>
    public static Hashtable Read(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1 << 16);
        using var unpickler = new LegacyTorchUnpickler(path);
        if (Load(unpickler, stream, path, "magic number") is not BigInteger magic || magic != MagicNumber)
            throw new InvalidDataException($"'{path}' is not a legacy torch.save file: it does not begin with torch.save's magic number.");
        object? version = Load(unpickler, stream, path, "protocol version");
        if (version is not ProtocolVersion)
            throw new InvalidDataException($"'{path}' has legacy torch.save protocol version {version ?? "None"}; only {ProtocolVersion} is known.");
        if (Load(unpickler, stream, path, "system info") is Hashtable info && info["little_endian"] is false)
            throw new InvalidDataException($"'{path}' was written on a big-endian machine, which is not supported.");
        object? saved = Load(unpickler, stream, path, "saved object");
        if (Load(unpickler, stream, path, "storage key list") is not ArrayList keys)
            throw new InvalidDataException($"'{path}' is corrupt: the storage key list is not a list.");
        try
        {
            ReadStorages(stream, keys, unpickler.Storages, path);
            if (saved is not Hashtable table)
                throw new InvalidDataException($"'{path}' holds a {saved?.GetType().Name ?? "None"}, not a dict of tensors (a state dict).");
            Materialize(table, path);
            return table;
        }
        finally
        {
            foreach (var storage in unpickler.Storages.Values) storage.Data?.Dispose();   // the views keep the memory alive
        }
    }

    /// <summary>The next pickle of the file; a failure becomes an error naming the file and the pickle.</summary>
    private static object? Load(Unpickler unpickler, Stream stream, string path, string what)
    {
        try
        {
            return unpickler.load(stream);
        }
        catch (Exception e) when (e is not InvalidDataException)
        {
            // Razorvine sizes its buffer from the length a string opcode claims before reading it: a corrupt length of 2^31 or
            // more fails that allocation (OutOfMemoryException, nothing allocated), which here means a corrupt file.
            string reason = e is OutOfMemoryException ? $"an item claims more bytes than the {stream.Length} of the file ({e.Message})"
                          : stream.Position >= stream.Length ? "the file ends inside it (truncated?)" : e.Message;
            throw new InvalidDataException($"'{path}': the {what} pickle of this legacy torch.save file could not be read: {reason}", e);
        }
    }

    /// <summary>Reads each storage's element count and bytes, in the order of <paramref name="keys"/>, into a new 1-D tensor.</summary>
    private static void ReadStorages(Stream stream, ArrayList keys, Dictionary<string, LegacyStorage> storages, string path)
    {
        Span<byte> countBytes = stackalloc byte[sizeof(long)];
        for (int i = 0; i < keys.Count; i++)
        {
            if (keys[i] is not string key || !storages.TryGetValue(key, out var storage))
                throw new InvalidDataException($"'{path}' is corrupt: its storage key list names '{keys[i]}', which no tensor uses.");
            string which = $"storage {i + 1} of {keys.Count} ('{key}', {storage.Count} x {storage.DType})";
            if (stream.ReadAtLeast(countBytes, countBytes.Length, throwOnEndOfStream: false) < countBytes.Length)
                throw new InvalidDataException($"'{path}' is truncated: it ends before {which}.");
            long count = BinaryPrimitives.ReadInt64LittleEndian(countBytes);
            if (count != storage.Count)
                throw new InvalidDataException($"'{path}' is corrupt: {which} is stored with {count} elements.");
            storage.Data = empty(count, storage.DType);                                  // [count]
            long bytes = count * storage.Data.ElementSize;
            if (stream.Length - stream.Position < bytes)
                throw new InvalidDataException($"'{path}' is truncated: {which} needs {bytes} bytes, {stream.Length - stream.Position} remain.");
            long chunk = ChunkBytes / storage.Data.ElementSize;
            for (long start = 0; start < count; start += chunk)
            {
                using var part = storage.Data.narrow(0, start, Math.Min(chunk, count - start));   // contiguous, shares memory
                stream.ReadExactly(part.bytes);
            }
        }
        if (storages.Values.FirstOrDefault(s => s.Data is null) is { } missing)
            throw new InvalidDataException($"'{path}' is corrupt: storage '{missing.Key}' is used by a tensor but has no data.");
    }

    /// <summary>
    /// Replaces every <see cref="LegacyTensorView"/> in <paramref name="root"/> and its nested dicts by its tensor. The walk is
    /// iterative: a crafted file of a few hundred KB can nest dicts 100,000 deep, and a recursive walk would overflow the stack,
    /// which no caller can catch.
    /// </summary>
    private static void Materialize(Hashtable root, string path)
    {
        var visited = new HashSet<object>(ReferenceEqualityComparer.Instance);               // pickles may hold cycles
        var pending = new Stack<Hashtable>();
        pending.Push(root);
        while (pending.TryPop(out var table))
        {
            if (!visited.Add(table)) continue;
            foreach (object key in table.Keys.Cast<object>().ToList())
            {
                if (table[key] is LegacyTensorView view) table[key] = view.Materialize(path);
                else if (table[key] is Hashtable inner) pending.Push(inner);
            }
        }
    }
}
