// The members of a NumPy .npz archive (a zip of .npy files, uncompressed as numpy.savez writes them), shared by the FID
// statistics and the shard-sums files.
using System.IO.Compression;

namespace UViT.MLNet.Core.Evaluation;

/// <summary>Reads and writes one array of an .npz archive.</summary>
internal static class NpzMembers
{
    /// <summary>Reads array <paramref name="key"/>; a missing one fails naming the file, the arrays it holds and <paramref name="expected"/>.</summary>
    public static NpyArray Read(ZipArchive archive, string path, string key, string expected)
    {
        var entry = archive.GetEntry(key + ".npy")
                    ?? throw new InvalidDataException($"'{path}' has no '{key}' array; it holds [{string.Join(", ", archive.Entries.Select(e => e.FullName))}]. {expected}");
        using var stream = entry.Open();
        return NpyFormat.Read(stream, $"{path}/{entry.FullName}");
    }

    /// <summary>Adds array <paramref name="key"/>, written by <paramref name="write"/> (an NpyFormat.Write call).</summary>
    public static void Write(ZipArchive archive, string key, Action<Stream> write)
    {
        var entry = archive.CreateEntry(key + ".npy", CompressionLevel.NoCompression);
        using var stream = entry.Open();
        write(stream);
    }
}
