// Reads a training store (format in TrainingStoreHeader.cs) with random access: a batch gathers its items by offset into a
// fresh array, so the file is never loaded or mapped whole and the process's resident memory does not grow with the data
// (read pages stay in the operating system's file cache, which is not counted against the process).
using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;
using static TorchSharp.torch;

namespace UViT.MLNet.Core.Training;

/// <summary>An open training store file: header plus random-access reads of items, labels and the rows' item ranges.</summary>
public sealed class TrainingStore : IDisposable
{
    private readonly SafeFileHandle _handle;
    private readonly long _itemsStart;

    /// <summary>The file this store reads.</summary>
    public string Path { get; }
    /// <summary>Counts, item shape, flags, class names and fingerprint.</summary>
    public TrainingStoreHeader Header { get; }
    /// <summary>Number of rows.</summary>
    public long Count => Header.Count;

    private TrainingStore(string path, SafeFileHandle handle, TrainingStoreHeader header, long itemsStart) =>
        (Path, _handle, Header, _itemsStart) = (path, handle, header, itemsStart);

    /// <summary>Opens a store, validating its header and its exact length (a truncated file is an <see cref="InvalidDataException"/> naming it).</summary>
    public static TrainingStore Open(string path)
    {
        path = System.IO.Path.GetFullPath(path);
        if (!File.Exists(path)) throw new FileNotFoundException($"Training store '{path}' not found.", path);
        TrainingStoreHeader header;
        long start;
        using (var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read))
            (header, start) = TrainingStoreHeader.Read(stream, path);
        return new TrainingStore(path, File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read), header, start);
    }

    /// <summary>The items of row <paramref name="row"/>: the index of its first and the number of them (1 without a row table).</summary>
    public (long First, long Count) Items(long row)
    {
        CheckRow(row);
        if (!Header.HasRowTable) return (row, 1);
        Span<byte> bytes = stackalloc byte[2 * sizeof(long)];
        ReadExactly(bytes, _itemsStart + Header.ItemCount * Header.ItemBytes + row * sizeof(long));
        long first = BinaryPrimitives.ReadInt64LittleEndian(bytes), end = BinaryPrimitives.ReadInt64LittleEndian(bytes[sizeof(long)..]);
        if (first < 0 || end <= first || end > Header.ItemCount || (row == 0 && first != 0) || (row == Count - 1 && end != Header.ItemCount))
            throw new InvalidDataException($"Training store '{Path}' has a damaged row table: row {row} claims items [{first}, {end}) of {Header.ItemCount}.");
        return (first, end - first);
    }

    /// <summary>The given items, stacked.</summary>
    /// <param name="items">Item indices in [0, ItemCount).</param>
    /// <returns>[B, ...item shape] float32 on the CPU.</returns>
    public Tensor ReadItems(IReadOnlyList<long> items)
    {
        int per = checked((int)Header.ItemLength);
        var values = new float[(long)items.Count * per];
        for (int i = 0; i < items.Count; i++)
            ReadExactly(MemoryMarshal.AsBytes(values.AsSpan(i * per, per)), ItemOffset(items[i]));
        return tensor(values, [items.Count, .. Header.ItemShape.Select(d => (long)d)]);    // [B, ...shape]
    }

    /// <summary>The 0-based labels of the given rows (one item each).</summary>
    /// <returns>[B] int64.</returns>
    public Tensor ReadLabels(IReadOnlyList<long> rows)
    {
        if (!Header.HasLabels) throw new InvalidOperationException($"Training store '{Path}' holds no labels.");
        var labels = new long[rows.Count];
        Span<byte> bytes = stackalloc byte[sizeof(int)];
        for (int i = 0; i < rows.Count; i++)
        {
            CheckRow(rows[i]);
            ReadExactly(bytes, ItemOffset(rows[i]) + Header.ItemBytes - sizeof(int));
            int label = BinaryPrimitives.ReadInt32LittleEndian(bytes);
            if (label < 0 || label >= Header.ClassNames!.Count)
                throw new InvalidDataException($"Training store '{Path}' has label {label} at row {rows[i]}, outside [0, {Header.ClassNames!.Count - 1}].");
            labels[i] = label;
        }
        return tensor(labels);                                                                 // [B]
    }

    private void CheckRow(long row)
    {
        if (row < 0 || row >= Count) throw new ArgumentOutOfRangeException(nameof(row), $"Row {row} is outside [0, {Count - 1}] of training store '{Path}'.");
    }

    private long ItemOffset(long item)
    {
        if (item < 0 || item >= Header.ItemCount) throw new ArgumentOutOfRangeException(nameof(item), $"Item {item} is outside [0, {Header.ItemCount - 1}] of training store '{Path}'.");
        return _itemsStart + item * Header.ItemBytes;
    }

    private void ReadExactly(Span<byte> buffer, long offset)
    {
        while (buffer.Length > 0)
        {
            int read = RandomAccess.Read(_handle, buffer, offset);
            if (read == 0) throw new InvalidDataException($"Training store '{Path}' ended early at byte {offset}: the file was truncated while open.");
            buffer = buffer[read..];
            offset += read;
        }
    }

    public void Dispose() => _handle.Dispose();
}
