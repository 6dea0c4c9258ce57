// The header of a moments cache file (format below), written and parsed in one place so writer and reader agree.
//
// Moments cache format, version 1 (all integers and floats little-endian):
//   offset  size  field
//   0       8     magic "UVITMOMS" (ASCII)
//   8       4     int32 version = 1
//   12      4     int32 dtype = 1 (float32; the only one defined)
//   16      8     int64 N, the number of records
//   24      4     int32 channels 2E (mean channels, then log-variance channels)
//   28      4     int32 height h
//   32      4     int32 width w
//   36      4     int32 flags: bit 0 = each record also holds the horizontally flipped image's moments, bit 1 = labels
//   40      8     float64 scale factor of the autoencoder (z = scale * (mean + std * noise))
//   48      4     int32 K, the number of class names (0 without labels)
//   52      ...   K class names, each an int32 byte length followed by UTF-8 bytes
//   then N records of equal size, record i at header length + i * record size:
//     float32[2E * h * w]  the image's moments, C order [2E, h, w], unscaled (as the autoencoder's quant_conv gives them)
//     float32[2E * h * w]  the flipped image's moments (only with flag bit 0)
//     int32                the 0-based label (only with flag bit 1)
// The file length must equal header length + N * record size exactly; anything else is reported as a damaged file.
using System.Text;

namespace UViT.MLNet.Core.Training;

/// <summary>What a moments cache holds: record count, moments shape, flip and label flags, scale factor and class names.</summary>
public sealed record MomentsCacheHeader(long Count, int Channels, int Height, int Width, bool HasFlipped, double ScaleFactor, IReadOnlyList<string>? ClassNames)
{
    private static readonly byte[] Magic = "UVITMOMS"u8.ToArray();
    private const int Version = 1;
    private const int Float32 = 1;

    /// <summary>Whether records carry labels (class names are given).</summary>
    public bool HasLabels => ClassNames is not null;
    /// <summary>Floats in one set of moments, 2E * h * w.</summary>
    public long MomentsLength => (long)Channels * Height * Width;
    /// <summary>Bytes of one record.</summary>
    public long RecordBytes => MomentsLength * sizeof(float) * (HasFlipped ? 2 : 1) + (HasLabels ? sizeof(int) : 0);

    /// <summary>Writes the header; returns its length in bytes (where record 0 starts).</summary>
    internal long Write(Stream stream)
    {
        using var writer = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true);
        writer.Write(Magic);
        writer.Write(Version);
        writer.Write(Float32);
        writer.Write(Count);
        writer.Write(Channels);
        writer.Write(Height);
        writer.Write(Width);
        writer.Write((HasFlipped ? 1 : 0) | (HasLabels ? 2 : 0));
        writer.Write(ScaleFactor);
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

    /// <summary>
    /// Refuses record counts and shapes the file's <paramref name="dataBytes"/> cannot hold, before any product of them can
    /// overflow (2^61 records of 8 bytes wrap to 0 and would pass an exact-length check) or anything is allocated.
    /// </summary>
    private static void CheckSize(MomentsCacheHeader header, long dataBytes, string path)
    {
        long perImage = (long)header.Channels * header.Height;                                  // < 2^62: no overflow
        if (perImage > int.MaxValue || perImage * header.Width > int.MaxValue)
            throw new InvalidDataException($"Moments cache '{path}' has implausible moments of {header.Channels}x{header.Height}x{header.Width}.");
        long record = header.RecordBytes;                                                       // < 2^35 now
        if (header.Count > dataBytes / record)
            throw new InvalidDataException($"Moments cache '{path}' claims {header.Count} records of {record} bytes; {dataBytes} bytes follow its header: " +
                                           "the file is truncated or damaged, build it again.");
    }

    /// <summary>The byte offset of the record count field (patched when a writer commits).</summary>
    internal const long CountOffset = 16;

    /// <summary>Reads and validates a header; returns it and its length. Errors are <see cref="InvalidDataException"/>s naming <paramref name="path"/>.</summary>
    internal static (MomentsCacheHeader Header, long Length) Read(Stream stream, string path)
    {
        try
        {
            using var reader = new BinaryReader(stream, Encoding.UTF8, leaveOpen: true);
            if (!reader.ReadBytes(Magic.Length).AsSpan().SequenceEqual(Magic))
                throw new InvalidDataException($"'{path}' is not a moments cache (wrong magic bytes).");
            int version = reader.ReadInt32(), dtype = reader.ReadInt32();
            if (version != Version) throw new InvalidDataException($"Moments cache '{path}' has version {version}; this library reads version {Version}.");
            if (dtype != Float32) throw new InvalidDataException($"Moments cache '{path}' has dtype code {dtype}; only 1 (float32) is defined.");
            long count = reader.ReadInt64();
            int channels = reader.ReadInt32(), height = reader.ReadInt32(), width = reader.ReadInt32(), flags = reader.ReadInt32();
            double scale = reader.ReadDouble();
            int classCount = reader.ReadInt32();
            if (count < 0 || channels <= 0 || channels % 2 != 0 || height <= 0 || width <= 0 || (flags & ~3) != 0 || !(scale > 0) || classCount < 0)
                throw new InvalidDataException($"Moments cache '{path}' has an invalid header (N {count}, 2E {channels}, {height}x{width}, flags {flags}, scale {scale}, {classCount} classes).");
            if ((flags & 2) == 0 && classCount != 0) throw new InvalidDataException($"Moments cache '{path}' names {classCount} classes but holds no labels.");
            if (classCount > (stream.Length - stream.Position) / sizeof(int))                       // each name takes at least its length field
                throw new InvalidDataException($"Moments cache '{path}' claims {classCount} class names; the {stream.Length} bytes of the file cannot hold them.");
            string[]? names = (flags & 2) == 0 ? null : new string[classCount];
            for (int i = 0; i < classCount; i++)
            {
                int length = reader.ReadInt32();
                if (length < 0 || length > stream.Length - stream.Position) throw new InvalidDataException($"Moments cache '{path}' has a damaged class name {i}.");
                names![i] = Encoding.UTF8.GetString(reader.ReadBytes(length));
            }
            var header = new MomentsCacheHeader(count, channels, height, width, (flags & 1) != 0, scale, names);
            CheckSize(header, stream.Length - stream.Position, path);
            return (header, stream.Position);
        }
        catch (EndOfStreamException e)
        {
            throw new InvalidDataException($"Moments cache '{path}' is truncated inside its header.", e);
        }
    }
}
