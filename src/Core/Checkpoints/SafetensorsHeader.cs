// Checks a safetensors header before any tensor is read. Format (github.com/huggingface/safetensors): an 8-byte little-endian
// header length N, N bytes of JSON {"name": {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {...}}, then the
// data; offsets count from the start of the data. TorchSharp.PyBridge's reader trusts the offsets: a negative one reads header
// bytes as weights, a huge shape allocates before failing. This check refuses such files with a message naming them.
using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace UViT.MLNet.Core.Checkpoints;

/// <summary>Validates safetensors headers against the size of their file.</summary>
public static class SafetensorsHeader
{
    /// <summary>Headers beyond this size are refused (the format's reference implementation allows 100 MB).</summary>
    private const long MaxHeaderBytes = 100_000_000;

    /// <summary>Bytes per element of the dtypes the format defines (names as in the file).</summary>
    private static readonly Dictionary<string, int> ElementSizes = new(StringComparer.Ordinal)
    {
        ["F64"] = 8, ["F32"] = 4, ["F16"] = 2, ["BF16"] = 2, ["I64"] = 8, ["I32"] = 4, ["I16"] = 2, ["I8"] = 1,
        ["U64"] = 8, ["U32"] = 4, ["U16"] = 2, ["U8"] = 1, ["BOOL"] = 1, ["F8_E4M3"] = 1, ["F8_E5M2"] = 1,
    };

    /// <summary>
    /// Reads the header at <paramref name="stream"/>'s position and checks that every tensor's dtype is known, its shape is
    /// non-negative, and its data range lies inside the data and has the size its shape and dtype need. The stream's position
    /// is restored.
    /// </summary>
    /// <param name="source">How to name the file in errors.</param>
    /// <exception cref="InvalidDataException">The header is truncated, not JSON, or describes data the file does not hold.</exception>
    public static void Validate(Stream stream, string source) => ReadHeader(stream, source, readMetadata: false);

    /// <summary>
    /// Validates the header at <paramref name="stream"/>'s position like <see cref="Validate"/> and returns its
    /// <c>__metadata__</c> string map (empty when the file has none). The stream's position is restored.
    /// </summary>
    /// <exception cref="InvalidDataException">The header is invalid, or its metadata is not a map of strings (as the format requires).</exception>
    public static Dictionary<string, string> ReadMetadata(Stream stream, string source) => ReadHeader(stream, source, readMetadata: true);

    private static Dictionary<string, string> ReadHeader(Stream stream, string source, bool readMetadata)
    {
        long start = stream.Position, available = stream.Length - start;
        try
        {
            Span<byte> lengthBytes = stackalloc byte[8];
            if (stream.ReadAtLeast(lengthBytes, 8, throwOnEndOfStream: false) < 8)
                throw Corrupt(source, $"it has {available} bytes, fewer than the 8 of the header length");
            ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(lengthBytes);
            if (headerLength > (ulong)Math.Min(available - 8, MaxHeaderBytes))
                throw Corrupt(source, $"its header claims {headerLength} bytes but {available - 8} follow (limit {MaxHeaderBytes})");
            var header = new byte[headerLength];
            stream.ReadExactly(header);
            return CheckEntries(header, available - 8 - (long)headerLength, source, readMetadata);
        }
        finally
        {
            stream.Position = start;
        }
    }

    /// <summary>
    /// Copies the safetensors file <paramref name="file"/> to <paramref name="destination"/> with <paramref name="metadata"/> as
    /// its <c>__metadata__</c> (replacing any): the tensors' entries and data are unchanged, since offsets count from the data's
    /// start. The new header is padded with spaces to a multiple of 8 bytes, as the format recommends.
    /// </summary>
    public static void WriteWithMetadata(ReadOnlySpan<byte> file, IReadOnlyDictionary<string, string> metadata, Stream destination)
    {
        int headerLength = checked((int)BinaryPrimitives.ReadUInt64LittleEndian(file));
        var header = JsonNode.Parse(file.Slice(8, headerLength))!.AsObject();
        header.Remove("__metadata__");
        var entries = new JsonObject { ["__metadata__"] = new JsonObject(metadata.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)JsonValue.Create(kv.Value)))) };
        foreach (var (name, value) in header.ToList())
        {
            header.Remove(name);
            entries[name] = value;
        }
        byte[] json = Encoding.UTF8.GetBytes(entries.ToJsonString());
        int padded = (json.Length + 7) / 8 * 8;
        Span<byte> length = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)padded);
        destination.Write(length);
        destination.Write(json);
        for (int i = json.Length; i < padded; i++) destination.WriteByte((byte)' ');
        destination.Write(file[(8 + headerLength)..]);
    }

    private static Dictionary<string, string> CheckEntries(byte[] header, long dataLength, string source, bool readMetadata)
    {
        JsonDocument document;
        try { document = JsonDocument.Parse(header); }
        catch (JsonException e) { throw Corrupt(source, $"its header is not valid JSON ({e.Message})"); }
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object) throw Corrupt(source, "its header is not a JSON object");
            foreach (var entry in document.RootElement.EnumerateObject())
            {
                if (entry.Name != "__metadata__") CheckTensor(entry.Name, entry.Value, dataLength, source);
                else if (readMetadata) ReadMetadataEntries(entry.Value, metadata, source);
            }
        }
        return metadata;
    }

    private static void ReadMetadataEntries(JsonElement element, Dictionary<string, string> metadata, string source)
    {
        if (element.ValueKind != JsonValueKind.Object) throw Corrupt(source, "its __metadata__ is not a JSON object");
        foreach (var item in element.EnumerateObject())
        {
            if (item.Value.ValueKind != JsonValueKind.String) throw Corrupt(source, $"its __metadata__ entry '{item.Name}' is not a string");
            metadata[item.Name] = item.Value.GetString()!;
        }
    }

    private static void CheckTensor(string name, JsonElement tensor, long dataLength, string source)
    {
        if (tensor.ValueKind != JsonValueKind.Object
            || !tensor.TryGetProperty("dtype", out var dtype) || dtype.ValueKind != JsonValueKind.String
            || !tensor.TryGetProperty("shape", out var shape) || shape.ValueKind != JsonValueKind.Array
            || !tensor.TryGetProperty("data_offsets", out var offsets) || offsets.ValueKind != JsonValueKind.Array || offsets.GetArrayLength() != 2)
            throw Corrupt(source, $"tensor '{name}' lacks a dtype, shape or data_offsets pair");
        if (!ElementSizes.TryGetValue(dtype.GetString()!, out int elementSize))
            throw Corrupt(source, $"tensor '{name}' has the unknown dtype '{dtype.GetString()}'");
        long bytes = elementSize;
        foreach (var dimension in shape.EnumerateArray())
        {
            if (!dimension.TryGetInt64(out long n) || n < 0 || (n > 0 && bytes > dataLength / n))
                throw Corrupt(source, $"tensor '{name}' has the shape {shape}, which does not fit in the file's {dataLength} data bytes");
            bytes *= n;
        }
        if (!offsets[0].TryGetInt64(out long begin) || !offsets[1].TryGetInt64(out long end) || begin < 0 || end < begin || end > dataLength)
            throw Corrupt(source, $"tensor '{name}' has data_offsets {offsets} outside the file's {dataLength} data bytes");
        if (end - begin != bytes)
            throw Corrupt(source, $"tensor '{name}' ({dtype.GetString()} {shape}) needs {bytes} bytes but its data_offsets {offsets} span {end - begin}");
    }

    private static InvalidDataException Corrupt(string source, string reason) =>
        new($"'{source}' is not a valid safetensors file: {reason}.");
}
