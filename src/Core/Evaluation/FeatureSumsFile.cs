// The file `uvit sample --fid-stats` writes per shard and `uvit fid merge` reads: a numpy .npz archive (readable with
// np.load) holding float64 arrays
//   count [1]        samples summed (exact in float64 up to 2^53)
//   shard [2]        K, N of the shard that wrote it (0, 1 for a whole set)
//   shift [D]        c, the point the sums are taken about
//   sum [D]          sum of (x - c)
//   sum_outer [D, D] sum of (x - c)(x - c)^T
// It has no mu/sigma members, so it cannot be mistaken for FID reference statistics; merge turns shards into those.
using System.IO.Compression;
using UViT.MLNet.Core.Checkpoints;

namespace UViT.MLNet.Core.Evaluation;

/// <summary>Reads and writes <see cref="FeatureSums"/> with the shard that produced them.</summary>
public static class FeatureSumsFile
{
    private const string Expected = "FID shard-sums files hold count, shard, shift, sum and sum_outer.";

    /// <summary>Writes the sums of shard <paramref name="shardIndex"/> of <paramref name="shardCount"/>, atomically.</summary>
    public static void Write(string path, FeatureSums sums, int shardIndex, int shardCount)
    {
        ArgumentNullException.ThrowIfNull(sums);
        long d = sums.Dimension;
        AtomicFile.Write(path, stream =>
        {
            using var archive = new ZipArchive(stream, ZipArchiveMode.Create, leaveOpen: true);
            NpzMembers.Write(archive, "count", s => NpyFormat.Write(s, [sums.Count], [1]));
            NpzMembers.Write(archive, "shard", s => NpyFormat.Write(s, [shardIndex, shardCount], [2]));
            NpzMembers.Write(archive, "shift", s => NpyFormat.Write(s, sums.Shift, [d]));
            NpzMembers.Write(archive, "sum", s => NpyFormat.Write(s, sums.Sum, [d]));
            NpzMembers.Write(archive, "sum_outer", s => NpyFormat.Write(s, sums.SumOfOuter, [d, d]));
        });
    }

    /// <summary>Reads a file written by <see cref="Write"/>: the sums and the shard (K, N).</summary>
    /// <exception cref="FileNotFoundException">No such file.</exception>
    /// <exception cref="InvalidDataException">Not such a file (e.g. mu/sigma statistics, which cannot be merged exactly).</exception>
    public static (FeatureSums Sums, int ShardIndex, int ShardCount) Read(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"Shard statistics file '{path}' does not exist.", path);
        try
        {
            using var archive = ZipFile.OpenRead(path);
            if (archive.GetEntry("sum_outer.npy") is null)
                throw new InvalidDataException($"'{path}' holds [{string.Join(", ", archive.Entries.Select(e => e.FullName))}], not shard sums " +
                                               "(count, shard, shift, sum, sum_outer) as `uvit sample --fid-stats` writes; mu/sigma files cannot be merged exactly.");
            var count = NpzMembers.Read(archive, path, "count", Expected);
            var shard = NpzMembers.Read(archive, path, "shard", Expected);
            var shift = NpzMembers.Read(archive, path, "shift", Expected);
            var sum = NpzMembers.Read(archive, path, "sum", Expected);
            var outer = NpzMembers.Read(archive, path, "sum_outer", Expected);
            if (count.Values.Length != 1 || shard.Values.Length != 2 || count.Values[0] < 0 || count.Values[0] != Math.Floor(count.Values[0]))
                throw new InvalidDataException($"'{path}': count must be one non-negative integer and shard two numbers.");
            int dim = shift.Values.Length;
            if (sum.Values.Length != dim || outer.Values.Length != (long)dim * dim)
                throw new InvalidDataException($"'{path}': shift, sum and sum_outer do not fit one width (lengths {dim}, {sum.Values.Length}, {outer.Values.Length}).");
            return (new FeatureSums((long)count.Values[0], shift.Values, sum.Values, outer.Values), (int)shard.Values[0], (int)shard.Values[1]);
        }
        catch (InvalidDataException e) when (!e.Message.StartsWith('\'' + path, StringComparison.Ordinal))
        {
            throw new InvalidDataException($"'{path}' is not a readable .npz archive (truncated or corrupt?): {e.Message}", e);
        }
        catch (IOException e) when (e is not FileNotFoundException)
        {
            throw new InvalidDataException($"'{path}' is not a readable .npz archive (truncated or corrupt?): {e.Message}", e);
        }
    }
}
