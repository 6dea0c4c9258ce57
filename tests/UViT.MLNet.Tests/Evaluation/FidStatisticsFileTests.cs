// The official reference-statistics format (numpy.savez with mu and sigma): reading the fixture written by NumPy,
// round trips, and clear errors for damaged files.
using System.IO.Compression;
using UViT.MLNet.Core.Evaluation;
using static TorchSharp.torch;

namespace UViT.MLNet.Tests.Evaluation;

[TestClass]
public sealed class FidStatisticsFileTests
{
    private static string NpzFixture => Directory.GetFiles(Support.Fixtures.FidFolder, "*.npz").Single();

    /// <summary>The case whose mu2/sigma2 the .npz holds, from its name (stats_case0_2.npz: case0, second set).</summary>
    private static (string Case, string Set) NpzSource()
    {
        var parts = Path.GetFileNameWithoutExtension(NpzFixture).Split('_');
        return (parts[1], parts[2]);
    }

    [TestMethod]
    public void ReadsStatisticsWrittenByNumpy()
    {
        using var scope = NewDisposeScope();
        var (name, set) = NpzSource();
        var t = FidFixtures.Tensors("frechet.safetensors");
        var stats = FidStatisticsFile.Read(NpzFixture);
        Assert.IsTrue(Support.Fixtures.Identical(stats.MeanTensor(), t[$"{name}_mu{set}"]), "mu");
        Assert.IsTrue(Support.Fixtures.Identical(stats.CovarianceTensor(), t[$"{name}_sigma{set}"]), "sigma");
    }

    [TestMethod]
    public void WriteThenReadRoundTripsBitExactly()
    {
        var original = FidStatisticsFile.Read(NpzFixture);
        string path = Path.Combine(Path.GetTempPath(), $"fid-{Guid.NewGuid():N}.npz");
        try
        {
            FidStatisticsFile.Write(path, original);
            var back = FidStatisticsFile.Read(path);
            CollectionAssert.AreEqual(original.Mean, back.Mean);
            CollectionAssert.AreEqual(original.Covariance, back.Covariance);
            // Same layout as numpy.savez: stored members mu.npy and sigma.npy with 64-byte aligned v1.0 headers.
            using var archive = ZipFile.OpenRead(path);
            CollectionAssert.AreEquivalent(new[] { "mu.npy", "sigma.npy" }, archive.Entries.Select(e => e.FullName).ToList());
            using var reference = ZipFile.OpenRead(NpzFixture);
            foreach (var entry in archive.Entries)
            {
                Assert.AreEqual(entry.Length, entry.CompressedLength, $"{entry.FullName} is stored uncompressed");
                Assert.AreEqual(reference.GetEntry(entry.FullName)!.Length, entry.Length, $"{entry.FullName} has numpy's size");
            }
        }
        finally
        {
            File.Delete(path);
        }
    }

    [TestMethod]
    public void ReadsCompressedFloat32AndFortranOrderedMembers()
    {
        // savez_compressed deflates; float32 statistics exist in the wild; Fortran order is legal .npy.
        string path = Path.Combine(Path.GetTempPath(), $"fid-{Guid.NewGuid():N}.npz");
        try
        {
            using (var archive = ZipFile.Open(path, ZipArchiveMode.Create))
            {
                WriteRaw(archive, "mu.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", [BitConverter.GetBytes(1.5f), BitConverter.GetBytes(-2f)]);
                // [[1, 2], [3, 4]] in Fortran (column-major) order is 1, 3, 2, 4.
                WriteRaw(archive, "sigma.npy", "{'descr': '<f8', 'fortran_order': True, 'shape': (2, 2), }",
                         [BitConverter.GetBytes(1.0), BitConverter.GetBytes(3.0), BitConverter.GetBytes(2.0), BitConverter.GetBytes(4.0)]);
            }
            var stats = FidStatisticsFile.Read(path);
            CollectionAssert.AreEqual(new[] { 1.5, -2.0 }, stats.Mean);
            CollectionAssert.AreEqual(new[] { 1.0, 2.0, 3.0, 4.0 }, stats.Covariance);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [TestMethod]
    public void TruncatedOrCorruptFilesGiveInvalidDataException()
    {
        byte[] bytes = File.ReadAllBytes(NpzFixture);
        string path = Path.Combine(Path.GetTempPath(), $"fid-{Guid.NewGuid():N}.npz");
        try
        {
            foreach (int length in new[] { 0, 10, bytes.Length / 2, bytes.Length - 30 })
            {
                File.WriteAllBytes(path, bytes[..length]);
                var error = Assert.ThrowsExactly<InvalidDataException>(() => FidStatisticsFile.Read(path), $"truncated to {length} bytes");
                StringAssert.Contains(error.Message, path);
            }
            File.WriteAllText(path, "not a zip archive at all");
            Assert.ThrowsExactly<InvalidDataException>(() => FidStatisticsFile.Read(path));

            File.Delete(path);
            using (var archive = ZipFile.Open(path, ZipArchiveMode.Create)) archive.CreateEntry("arr_0.npy");
            var missing = Assert.ThrowsExactly<InvalidDataException>(() => FidStatisticsFile.Read(path));
            StringAssert.Contains(missing.Message, "arr_0.npy");

            File.Delete(path);
            using (var archive = ZipFile.Open(path, ZipArchiveMode.Create))
            {
                WriteRaw(archive, "mu.npy", "{'descr': '<i8', 'fortran_order': False, 'shape': (1,), }", [BitConverter.GetBytes(1L)]);
                WriteRaw(archive, "sigma.npy", "{'descr': '<f8', 'fortran_order': False, 'shape': (1, 1), }", [BitConverter.GetBytes(1.0)]);
            }
            StringAssert.Contains(Assert.ThrowsExactly<InvalidDataException>(() => FidStatisticsFile.Read(path)).Message, "<i8");
        }
        finally
        {
            File.Delete(path);
        }
        Assert.ThrowsExactly<FileNotFoundException>(() => FidStatisticsFile.Read(path));
    }

    // A v1.0 .npy member with the given header dict and raw little-endian values.
    private static void WriteRaw(ZipArchive archive, string name, string dict, byte[][] values)
    {
        using var stream = archive.CreateEntry(name, CompressionLevel.Optimal).Open();
        string header = dict + new string(' ', (64 - (10 + dict.Length + 1) % 64) % 64) + "\n";
        stream.Write([0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1, 0]);
        stream.Write(BitConverter.GetBytes((ushort)header.Length));
        stream.Write(System.Text.Encoding.ASCII.GetBytes(header));
        foreach (var v in values) stream.Write(v);
    }
}
