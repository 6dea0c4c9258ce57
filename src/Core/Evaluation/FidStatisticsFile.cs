// The official FID reference-statistics files: numpy.savez archives with the arrays `mu` [D] and `sigma` [D, D].
// Provenance: pytorch-fid fid_score.py (`np.savez(path, mu=mu, sigma=sigma)`; reading `f['mu'][:], f['sigma'][:]`),
// U-ViT tools/fid_score.py and the fid_stats_*.npz files its configs point at. An .npz is a zip archive with one .npy
// member per array ("mu.npy", "sigma.npy"), stored uncompressed by savez and deflated by savez_compressed; both read.
// Other members (some published files carry more) are ignored.
using System.IO.Compression;
using UViT.MLNet.Core.Checkpoints;

namespace UViT.MLNet.Core.Evaluation;

/// <summary>Reads and writes FID reference statistics (<c>.npz</c> with <c>mu</c> and <c>sigma</c>).</summary>
public static class FidStatisticsFile
{
    private const string Expected = "FID statistics files hold 'mu' and 'sigma'.";

    /// <summary>Reads mu and sigma (float64 or float32 in the file; float64 here).</summary>
    /// <exception cref="FileNotFoundException">No such file.</exception>
    /// <exception cref="InvalidDataException">Not an .npz archive, truncated, no mu/sigma, or their shapes disagree.</exception>
    public static FeatureStatistics Read(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"FID statistics file '{path}' does not exist.", path);
        try
        {
            using var archive = ZipFile.OpenRead(path);
            var mu = NpzMembers.Read(archive, path, "mu", Expected);
            var sigma = NpzMembers.Read(archive, path, "sigma", Expected);
            if (mu.Shape.Length != 1 || sigma.Shape.Length != 2 || sigma.Shape[0] != mu.Shape[0] || sigma.Shape[1] != mu.Shape[0])
                throw new InvalidDataException($"'{path}': expected mu [D] and sigma [D, D]; got mu ({string.Join(", ", mu.Shape)}) and sigma ({string.Join(", ", sigma.Shape)}).");
            return new FeatureStatistics(mu.Values, sigma.Values);
        }
        catch (InvalidDataException e) when (!e.Message.StartsWith('\'' + path, StringComparison.Ordinal))
        {
            // ZipArchive's own errors ("End of Central Directory record could not be found", CRC mismatch) do not name the file.
            throw new InvalidDataException($"'{path}' is not a readable .npz archive (truncated or corrupt?): {e.Message}", e);
        }
        catch (IOException e) when (e is not FileNotFoundException)
        {
            throw new InvalidDataException($"'{path}' is not a readable .npz archive (truncated or corrupt?): {e.Message}", e);
        }
    }

    /// <summary>Writes mu and sigma as numpy.savez does (stored, float64), atomically.</summary>
    public static void Write(string path, FeatureStatistics statistics)
    {
        ArgumentNullException.ThrowIfNull(statistics);
        long d = statistics.Dimension;
        AtomicFile.Write(path, stream =>
        {
            using var archive = new ZipArchive(stream, ZipArchiveMode.Create, leaveOpen: true);
            NpzMembers.Write(archive, "mu", s => NpyFormat.Write(s, statistics.Mean, [d]));
            NpzMembers.Write(archive, "sigma", s => NpyFormat.Write(s, statistics.Covariance, [d, d]));
        });
    }
}
