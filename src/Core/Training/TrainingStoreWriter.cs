// Writes a training store (format in TrainingStoreHeader.cs) row by row, so the data set never has to fit in memory (a store
// with a row table keeps 8 bytes per row until Commit). The file is written next to its destination and renamed into place
// on Commit, so a crash never leaves a half-written store under the final name.
using System.Buffers.Binary;
using System.Runtime.InteropServices;
using UViT.MLNet.Core.Checkpoints;

namespace UViT.MLNet.Core.Training;

/// <summary>Appends rows of float32 items (and labels) to a new training store file.</summary>
public sealed class TrainingStoreWriter : IDisposable
{
    private readonly string _path;
    private readonly string _temporary;
    private readonly FileStream _stream;
    private readonly TrainingStoreHeader _layout;
    private readonly TrainingStoreFingerprint _fingerprint = new();
    private readonly List<long>? _rowTable;                          // first item of each row, with a row table
    private long _count, _items;
    private bool _closed;

    /// <param name="path">The store file to create (replaced on <see cref="Commit"/> if it exists).</param>
    /// <param name="itemShape">Shape of one item, e.g. [C, S, S] or [T, D].</param>
    /// <param name="classNames">Class names when every item has a label (then each row holds one item); null: no labels.</param>
    /// <param name="rowTable">Whether rows may hold several items (contexts of several captions); false: one item per row.</param>
    public TrainingStoreWriter(string path, IReadOnlyList<int> itemShape, IReadOnlyList<string>? classNames = null, bool rowTable = false)
    {
        if (itemShape.Count is < 1 or > 4 || itemShape.Any(d => d <= 0) || itemShape.Aggregate(1L, (a, b) => a * b) > int.MaxValue)
            throw new ArgumentOutOfRangeException(nameof(itemShape), $"A training store item needs 1 to 4 positive dimensions; got [{string.Join(", ", itemShape)}].");
        if (classNames is not null && rowTable) throw new ArgumentException("Labelled rows hold one item each; a row table is for unlabelled rows.", nameof(rowTable));
        _path = Path.GetFullPath(path);
        _temporary = _path + ".tmp";
        _layout = new TrainingStoreHeader(0, 0, [.. itemShape], rowTable, classNames, "");
        _rowTable = rowTable ? [] : null;
        Directory.CreateDirectory(Path.GetDirectoryName(_path)!);
        _stream = new FileStream(_temporary, FileMode.Create, FileAccess.Write, FileShare.None, bufferSize: 1 << 20);
        _layout.Write(_stream);
    }

    /// <summary>Rows appended so far.</summary>
    public long Count => _count;
    /// <summary>The fingerprint of the rows appended so far (final after the last row).</summary>
    public string Fingerprint => _fingerprint.Current();

    /// <summary>Appends one row: one item (or, with a row table, one or more items) of float32 values, and its 0-based label with labels.</summary>
    public void AppendRow(ReadOnlySpan<float> values, int label = -1)
    {
        ObjectDisposedException.ThrowIf(_closed, this);
        long per = _layout.ItemLength;
        long items = values.Length / per;
        if (values.Length == 0 || values.Length % per != 0 || (_rowTable is null && items != 1))
            throw new ArgumentException($"A row must hold {(_rowTable is null ? "one item" : "a whole number of items")} of {per} floats; got {values.Length}.", nameof(values));
        if (_layout.ClassNames is { } names ? label < 0 || label >= names.Count : label != -1)
            throw new ArgumentOutOfRangeException(nameof(label), _layout.HasLabels ? $"Label {label} is outside [0, {_layout.ClassNames!.Count - 1}]." : "This store holds no labels.");
        _stream.Write(MemoryMarshal.AsBytes(values));
        if (_layout.HasLabels)
        {
            Span<byte> bytes = stackalloc byte[sizeof(int)];
            BinaryPrimitives.WriteInt32LittleEndian(bytes, label);
            _stream.Write(bytes);
        }
        _rowTable?.Add(_items);
        _fingerprint.AddRow(values, (int)items, label);
        _items += items;
        _count++;
    }

    /// <summary>Writes the row table, counts and fingerprint, flushes to disk and renames the file into place; returns the header written.</summary>
    public TrainingStoreHeader Commit()
    {
        ObjectDisposedException.ThrowIf(_closed, this);
        Span<byte> field = stackalloc byte[sizeof(long)];
        if (_rowTable is not null)
        {
            foreach (long first in _rowTable.Append(_items))
            {
                BinaryPrimitives.WriteInt64LittleEndian(field, first);
                _stream.Write(field);
            }
        }
        var header = _layout with { Count = _count, ItemCount = _items, Fingerprint = Fingerprint };
        _stream.Position = TrainingStoreHeader.CountOffset;
        BinaryPrimitives.WriteInt64LittleEndian(field, _count);
        _stream.Write(field);
        BinaryPrimitives.WriteInt64LittleEndian(field, _items);
        _stream.Write(field);
        _stream.Write(Convert.FromHexString(header.Fingerprint));
        _stream.Flush(flushToDisk: true);
        _stream.Dispose();
        File.Move(_temporary, _path, overwrite: true);
        AtomicFile.FlushFolder(Path.GetDirectoryName(_path)!);
        Close();
        return header;
    }

    /// <summary>Without a <see cref="Commit"/>, deletes the partial file.</summary>
    public void Dispose()
    {
        if (_closed) return;
        _stream.Dispose();
        File.Delete(_temporary);
        Close();
    }

    private void Close()
    {
        _fingerprint.Dispose();
        _closed = true;
    }
}
