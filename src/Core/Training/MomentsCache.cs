// Reads a moments cache (format in MomentsCacheHeader.cs) with random access: a batch gathers its records by offset, so
// the file is never loaded whole. Sampling follows the official latent training: the cache holds each image's moments
// (and its horizontal flip's), and every step draws a fresh latent z = scale * (mean + exp(0.5 * clamp(logvar)) * noise).
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;
using UViT.MLNet.Core.Autoencoder;
using static TorchSharp.torch;

namespace UViT.MLNet.Core.Training;

/// <summary>An open moments cache file: header plus random-access reads of moments, labels and sampled latents.</summary>
public sealed class MomentsCache : IDisposable
{
    private readonly SafeFileHandle _handle;
    private readonly long _recordsStart;

    /// <summary>The file this cache reads.</summary>
    public string Path { get; }
    /// <summary>Count, shape, flags, scale factor and class names.</summary>
    public MomentsCacheHeader Header { get; }
    /// <summary>Number of records.</summary>
    public long Count => Header.Count;
    /// <summary>Latent channels E (half the moment channels).</summary>
    public int LatentChannels => Header.Channels / 2;

    private MomentsCache(string path, SafeFileHandle handle, MomentsCacheHeader header, long recordsStart) =>
        (Path, _handle, Header, _recordsStart) = (path, handle, header, recordsStart);

    /// <summary>Opens a cache, validating its header and its exact length (a truncated file is an <see cref="InvalidDataException"/> naming it).</summary>
    public static MomentsCache Open(string path)
    {
        path = System.IO.Path.GetFullPath(path);
        if (!File.Exists(path)) throw new FileNotFoundException($"Moments cache '{path}' not found.", path);
        MomentsCacheHeader header;
        long start, length;
        using (var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read))
        {
            (header, start) = MomentsCacheHeader.Read(stream, path);
            length = stream.Length;
        }
        long expected = start + header.Count * header.RecordBytes;
        if (length != expected)
            throw new InvalidDataException($"Moments cache '{path}' is {length} bytes; its header ({header.Count} records of {header.RecordBytes} bytes) needs {expected}: " +
                                           "the file is truncated or damaged, build it again.");
        return new MomentsCache(path, File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read), header, start);
    }

    /// <summary>The stored moments of the given records (the flipped image's where <paramref name="flipped"/> says so).</summary>
    /// <param name="rows">Record indices in [0, Count).</param>
    /// <param name="flipped">Per row, whether to read the flipped moments (requires a cache with flips); null: none flipped.</param>
    /// <returns>[B, 2E, h, w] float32 on the CPU.</returns>
    public Tensor ReadMoments(IReadOnlyList<long> rows, IReadOnlyList<bool>? flipped = null)
    {
        if (flipped is not null && flipped.Count != rows.Count) throw new ArgumentException($"Got {flipped.Count} flip flags for {rows.Count} rows.", nameof(flipped));
        int per = checked((int)Header.MomentsLength);
        var values = new float[(long)rows.Count * per];
        for (int i = 0; i < rows.Count; i++)
        {
            bool flip = flipped?[i] ?? false;
            if (flip && !Header.HasFlipped) throw new InvalidOperationException($"Moments cache '{Path}' holds no flipped moments.");
            long offset = RecordOffset(rows[i]) + (flip ? Header.MomentsLength * sizeof(float) : 0);
            ReadExactly(MemoryMarshal.AsBytes(values.AsSpan(i * per, per)), offset);
        }
        return tensor(values, [rows.Count, Header.Channels, Header.Height, Header.Width]);    // [B, 2E, h, w]
    }

    /// <summary>The 0-based labels of the given records.</summary>
    /// <returns>[B] int64.</returns>
    public Tensor ReadLabels(IReadOnlyList<long> rows)
    {
        if (!Header.HasLabels) throw new InvalidOperationException($"Moments cache '{Path}' holds no labels.");
        var labels = new long[rows.Count];
        Span<byte> bytes = stackalloc byte[sizeof(int)];
        for (int i = 0; i < rows.Count; i++)
        {
            ReadExactly(bytes, RecordOffset(rows[i]) + Header.RecordBytes - sizeof(int));
            labels[i] = System.Buffers.Binary.BinaryPrimitives.ReadInt32LittleEndian(bytes);
        }
        return tensor(labels);                                                                 // [B]
    }

    /// <summary>
    /// A training batch: per row a random choice between the image and its flip (when stored), then a latent sampled from
    /// those moments. Both draws come from <paramref name="random"/> (flips first, then noise), so a run whose generator
    /// state is checkpointed resumes exactly.
    /// </summary>
    /// <param name="rows">Record indices.</param>
    /// <param name="random">A CPU generator (the training session's).</param>
    /// <returns>([B, E, h, w] scaled latents, [B] int64 labels or null).</returns>
    public (Tensor Latents, Tensor? Labels) SampleBatch(IReadOnlyList<long> rows, Generator random)
    {
        using var scope = NewDisposeScope();
        bool[]? flipped = null;
        if (Header.HasFlipped)
        {
            var coins = randint(0, 2, [rows.Count], dtype: ScalarType.Int64, generator: random);  // [B]
            flipped = coins.data<long>().Select(c => c == 1).ToArray();
        }
        var moments = ReadMoments(rows, flipped);                                               // [B, 2E, h, w]
        var noise = randn([rows.Count, LatentChannels, Header.Height, Header.Width], generator: random); // [B, E, h, w]
        var latents = AutoencoderKL.SampleLatent(moments, noise, Header.ScaleFactor);           // [B, E, h, w]
        var labels = Header.HasLabels ? ReadLabels(rows) : null;                                // [B]
        return (latents.MoveToOuterDisposeScope(), labels?.MoveToOuterDisposeScope());
    }

    private long RecordOffset(long row)
    {
        if (row < 0 || row >= Count) throw new ArgumentOutOfRangeException(nameof(row), $"Record {row} is outside [0, {Count - 1}] of moments cache '{Path}'.");
        return _recordsStart + row * Header.RecordBytes;
    }

    private void ReadExactly(Span<byte> buffer, long offset)
    {
        while (buffer.Length > 0)
        {
            int read = RandomAccess.Read(_handle, buffer, offset);
            if (read == 0) throw new InvalidDataException($"Moments cache '{Path}' ended early at byte {offset}: the file was truncated while open.");
            buffer = buffer[read..];
            offset += read;
        }
    }

    public void Dispose() => _handle.Dispose();
}
