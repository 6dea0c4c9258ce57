// Writes a moments cache (format in MomentsCacheHeader.cs) record by record, so the data set never has to fit in memory.
// The file is written next to its destination and renamed into place on Commit, so a crash never leaves a half-written
// cache under the final name.
using System.Runtime.InteropServices;
using UViT.MLNet.Core.Checkpoints;
using static TorchSharp.torch;

namespace UViT.MLNet.Core.Training;

/// <summary>Appends batches of autoencoder moments (and flipped moments and labels) to a new moments cache file.</summary>
public sealed class MomentsCacheWriter : IDisposable
{
    private readonly string _path;
    private readonly string _temporary;
    private readonly FileStream _stream;
    private readonly MomentsCacheHeader _layout;
    private long _count;
    private bool _committed;

    /// <param name="path">The cache file to create (replaced on <see cref="Commit"/> if it exists).</param>
    /// <param name="layout">Shape, flags, scale factor and class names; its Count is ignored (the appended records count).</param>
    public MomentsCacheWriter(string path, MomentsCacheHeader layout)
    {
        _path = Path.GetFullPath(path);
        _temporary = _path + ".tmp";
        if (layout.Channels <= 0 || layout.Channels % 2 != 0 || layout.Height <= 0 || layout.Width <= 0 || !(layout.ScaleFactor > 0 && double.IsFinite(layout.ScaleFactor)))
            throw new ArgumentOutOfRangeException(nameof(layout), $"A moments cache needs an even channel count 2E, positive h and w, and a positive scale; got {layout}.");
        _layout = layout with { Count = 0 };
        Directory.CreateDirectory(Path.GetDirectoryName(_path)!);
        _stream = new FileStream(_temporary, FileMode.Create, FileAccess.Write, FileShare.None);
        _layout.Write(_stream);
    }

    /// <summary>Records appended so far.</summary>
    public long Count => _count;

    /// <summary>Appends B records.</summary>
    /// <param name="moments">[B, 2E, h, w] float32 moments.</param>
    /// <param name="flipped">[B, 2E, h, w] moments of the horizontally flipped images; required exactly when the layout has flips.</param>
    /// <param name="labels">B 0-based labels; required exactly when the layout has labels.</param>
    public void Append(Tensor moments, Tensor? flipped = null, IReadOnlyList<long>? labels = null)
    {
        ObjectDisposedException.ThrowIf(_committed, this);
        long[] shape = [moments.shape[0], _layout.Channels, _layout.Height, _layout.Width];
        Require(moments, shape, nameof(moments));
        if ((flipped is not null) != _layout.HasFlipped)
            throw new ArgumentException(_layout.HasFlipped ? "This cache stores flipped moments; pass them." : "This cache stores no flipped moments.", nameof(flipped));
        if (flipped is not null) Require(flipped, shape, nameof(flipped));
        if ((labels is not null) != _layout.HasLabels)
            throw new ArgumentException(_layout.HasLabels ? "This cache stores labels; pass them." : "This cache stores no labels.", nameof(labels));
        if (labels is not null && labels.Count != shape[0])
            throw new ArgumentException($"Got {labels.Count} labels for {shape[0]} records.", nameof(labels));
        var values = Floats(moments);
        var flippedValues = flipped is null ? null : Floats(flipped);
        int per = checked((int)_layout.MomentsLength);
        Span<byte> labelBytes = stackalloc byte[sizeof(int)];
        for (int i = 0; i < shape[0]; i++)
        {
            _stream.Write(MemoryMarshal.AsBytes(values.AsSpan(i * per, per)));
            if (flippedValues is not null) _stream.Write(MemoryMarshal.AsBytes(flippedValues.AsSpan(i * per, per)));
            if (labels is not null)
            {
                long label = labels[i];
                if (label < 0 || label >= _layout.ClassNames!.Count)
                    throw new ArgumentOutOfRangeException(nameof(labels), $"Label {label} is outside [0, {_layout.ClassNames!.Count - 1}].");
                System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(labelBytes, (int)label);
                _stream.Write(labelBytes);
            }
        }
        _count += shape[0];
    }

    /// <summary>Writes the record count, flushes to disk and renames the file into place.</summary>
    public void Commit()
    {
        ObjectDisposedException.ThrowIf(_committed, this);
        Span<byte> count = stackalloc byte[sizeof(long)];
        System.Buffers.Binary.BinaryPrimitives.WriteInt64LittleEndian(count, _count);
        _stream.Position = MomentsCacheHeader.CountOffset;
        _stream.Write(count);
        _stream.Flush(flushToDisk: true);
        _stream.Dispose();
        File.Move(_temporary, _path, overwrite: true);
        AtomicFile.FlushFolder(Path.GetDirectoryName(Path.GetFullPath(_path))!);
        _committed = true;
    }

    /// <summary>Without a <see cref="Commit"/>, deletes the partial file.</summary>
    public void Dispose()
    {
        if (_committed) return;
        _stream.Dispose();
        File.Delete(_temporary);
        _committed = true;
    }

    private static void Require(Tensor t, long[] shape, string name)
    {
        if (!t.shape.SequenceEqual(shape) || t.dtype != ScalarType.Float32)
            throw new ArgumentException($"{name} must be float32 [{string.Join(", ", shape)}]; got {t.dtype} [{string.Join(", ", t.shape)}].", name);
    }

    private static float[] Floats(Tensor t)
    {
        using var scope = NewDisposeScope();                              // the detached, CPU and contiguous copies
        return t.detach().cpu().contiguous().data<float>().ToArray();
    }
}
