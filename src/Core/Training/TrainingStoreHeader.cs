// The header of a training store file (format below), written and parsed in one place so writer and reader agree. A
// training store holds a training set's rows on disk (pixel images, or text contexts) so that training reads them batch
// by batch instead of holding them in memory; the trainer writes one per Fit when the data exceeds its memory budget.
//
// Training store format, version 1 (all integers and floats little-endian):
//   offset  size  field
//   0       8     magic "UVITROWS" (ASCII)
//   8       4     int32 version = 1
//   12      4     int32 dtype = 1 (float32; the only one defined)
//   16      8     int64 N, the number of rows
//   24      8     int64 M, the number of items (M = N without a row table; M >= N with one: every row holds >= 1 item)
//   32      32    SHA-256 fingerprint of the rows as written (TrainingStoreFingerprint)
//   64      4     int32 flags: bit 0 = each item is followed by an int32 0-based label, bit 1 = a row table follows the items
//   68      4     int32 rank R (1 to 4) of an item
//   72      4R    int32 item shape (each > 0), e.g. [C, S, S] for an image or [T, D] for a text context
//   ...     4     int32 K, the number of class names (0 without labels)
//   ...     ...   K class names, each an int32 byte length followed by UTF-8 bytes
//   then M items, item j at header length + j * item size: float32[prod(shape)] (C order) and, with flag bit 0, an int32 label
//   then, with flag bit 1, N + 1 int64 item indices: row i holds items [table[i], table[i + 1]); table[0] = 0, table[N] = M
// The file length must equal exactly what the header describes; anything else is reported as a damaged file.
using System.Text;

namespace UViT.MLNet.Core.Training;

/// <summary>What a training store holds: row and item counts, item shape, labels and row-table flags, class names and fingerprint.</summary>
public sealed record TrainingStoreHeader(long Count, long ItemCount, IReadOnlyList<int> ItemShape, bool HasRowTable, IReadOnlyList<string>? ClassNames, string Fingerprint)
{
    private static readonly byte[] Magic = "UVITROWS"u8.ToArray();
    private const int Version = 1;
    private const int Float32 = 1;
    private const int MaxRank = 4;
    /// <summary>Offsets of the fields a writer patches when it commits.</summary>
    internal const long CountOffset = 16, ItemCountOffset = 24, FingerprintOffset = 32, FingerprintBytes = 32;

    /// <summary>Whether items carry labels (class names are given).</summary>
    public bool HasLabels => ClassNames is not null;
    /// <summary>Floats in one item.</summary>
    public long ItemLength => ItemShape.Aggregate(1L, (a, b) => a * b);
    /// <summary>Bytes of one item (its floats and, with labels, its label).</summary>
    public long ItemBytes => ItemLength * sizeof(float) + (HasLabels ? sizeof(int) : 0);
    /// <summary>Bytes of the row table after the items (0 without one).</summary>
    public long RowTableBytes => HasRowTable ? (Count + 1) * sizeof(long) : 0;

    /// <summary>Writes the header (counts and fingerprint as given; a writer patches them on commit); returns its length in bytes.</summary>
    internal long Write(Stream stream)
    {
        using var writer = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true);
        writer.Write(Magic);
        writer.Write(Version);
        writer.Write(Float32);
        writer.Write(Count);
        writer.Write(ItemCount);
        writer.Write(Convert.FromHexString(Fingerprint.PadLeft((int)FingerprintBytes * 2, '0')));
        writer.Write((HasLabels ? 1 : 0) | (HasRowTable ? 2 : 0));
        writer.Write(ItemShape.Count);
        foreach (int d in ItemShape) writer.Write(d);
        writer.Write(ClassNames?.Count ?? 0);
        foreach (var name in ClassNames ?? [])
        {
            var bytes = Encoding.UTF8.GetBytes(name);
            writer.Write(bytes.Length);
            writer.Write(bytes);
        }
        writer.Flush();
        return stream.Position;
    }

    /// <summary>Reads and validates a header against the file's length; returns it and its length. Errors are <see cref="InvalidDataException"/>s naming <paramref name="path"/>.</summary>
    internal static (TrainingStoreHeader Header, long Length) Read(Stream stream, string path)
    {
        try
        {
            using var reader = new BinaryReader(stream, Encoding.UTF8, leaveOpen: true);
            if (!reader.ReadBytes(Magic.Length).AsSpan().SequenceEqual(Magic))
                throw new InvalidDataException($"'{path}' is not a training store (wrong magic bytes).");
            int version = reader.ReadInt32(), dtype = reader.ReadInt32();
            if (version != Version) throw new InvalidDataException($"Training store '{path}' has version {version}; this library reads version {Version}.");
            if (dtype != Float32) throw new InvalidDataException($"Training store '{path}' has dtype code {dtype}; only 1 (float32) is defined.");
            long count = reader.ReadInt64(), items = reader.ReadInt64();
            string fingerprint = Convert.ToHexString(reader.ReadBytes((int)FingerprintBytes)).ToLowerInvariant();
            int flags = reader.ReadInt32(), rank = reader.ReadInt32();
            if (count < 0 || items < count || (flags & ~3) != 0 || rank < 1 || rank > MaxRank || ((flags & 2) == 0 && items != count))
                throw new InvalidDataException($"Training store '{path}' has an invalid header (N {count}, M {items}, flags {flags}, rank {rank}).");
            var shape = new int[rank];
            for (int i = 0; i < rank; i++) shape[i] = reader.ReadInt32();
            long length = 1;
            foreach (int d in shape)
            {
                if (d <= 0 || (length *= d) > int.MaxValue)                                       // each factor < 2^31: no overflow before the check
                    throw new InvalidDataException($"Training store '{path}' has an implausible item shape [{string.Join(", ", shape)}].");
            }
            int classCount = reader.ReadInt32();
            if (classCount < 0 || ((flags & 1) == 0 && classCount != 0) || classCount > (stream.Length - stream.Position) / sizeof(int))
                throw new InvalidDataException($"Training store '{path}' names {classCount} classes (flags {flags}); the {stream.Length} bytes of the file cannot hold them.");
            string[]? names = (flags & 1) == 0 ? null : new string[classCount];
            for (int i = 0; i < classCount; i++)
            {
                int nameLength = reader.ReadInt32();
                if (nameLength < 0 || nameLength > stream.Length - stream.Position) throw new InvalidDataException($"Training store '{path}' has a damaged class name {i}.");
                names![i] = Encoding.UTF8.GetString(reader.ReadBytes(nameLength));
            }
            var header = new TrainingStoreHeader(count, items, shape, (flags & 2) != 0, names, fingerprint);
            CheckLength(header, stream.Length - stream.Position, path);
            return (header, stream.Position);
        }
        catch (EndOfStreamException e)
        {
            throw new InvalidDataException($"Training store '{path}' is truncated inside its header.", e);
        }
    }

    /// <summary>
    /// Requires the bytes after the header to be exactly the items and the row table, refusing counts the file cannot hold
    /// before any product of them can overflow (item bytes are below 2^34, so M is bounded by the division first).
    /// </summary>
    private static void CheckLength(TrainingStoreHeader header, long dataBytes, string path)
    {
        if (header.ItemCount > dataBytes / header.ItemBytes || (header.HasRowTable && header.Count >= dataBytes / sizeof(long)))
            throw new InvalidDataException($"Training store '{path}' claims {header.Count} rows and {header.ItemCount} items of {header.ItemBytes} bytes; " +
                                           $"{dataBytes} bytes follow its header: the file is truncated or damaged.");
        long expected = header.ItemCount * header.ItemBytes + header.RowTableBytes;
        if (dataBytes != expected)
            throw new InvalidDataException($"Training store '{path}' has {dataBytes} bytes after its header; its {header.Count} rows and {header.ItemCount} items " +
                                           $"of {header.ItemBytes} bytes need {expected}: the file is truncated or damaged.");
    }
}
