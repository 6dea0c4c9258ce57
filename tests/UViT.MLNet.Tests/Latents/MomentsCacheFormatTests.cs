// The moments cache file on its own: write/read round trip with random access, flip selection, labels and class names,
// damaged files reported by name, atomic writing, and per-step sampling equal to the autoencoder's SampleLatent.
using UViT.MLNet.Core.Autoencoder;
using UViT.MLNet.Core.Training;
using static TorchSharp.torch;

namespace UViT.MLNet.Tests.Latents;

[TestClass]
public sealed class MomentsCacheFormatTests
{
    public TestContext TestContext { get; set; } = null!;

    private static readonly MomentsCacheHeader Layout = new(0, 8, 4, 4, HasFlipped: true, ScaleFactor: 0.5, ClassNames: ["cat", "dög"]);

    private string TempFile() => Path.Combine(TestContext.TestRunDirectory ?? Path.GetTempPath(), Guid.NewGuid().ToString("N") + ".moments");

    /// <summary>Writes 5 records in two batches; returns (moments [5, 8, 4, 4], flipped [5, 8, 4, 4], labels).</summary>
    private static (Tensor Moments, Tensor Flipped, long[] Labels) Write(string path)
    {
        using var generator = new Generator(3);
        var moments = randn([5, 8, 4, 4], generator: generator);
        var flipped = randn([5, 8, 4, 4], generator: generator);
        long[] labels = [1, 0, 0, 1, 1];
        using var writer = new MomentsCacheWriter(path, Layout);
        writer.Append(moments.slice(0, 0, 2, 1), flipped.slice(0, 0, 2, 1), labels[..2]);
        writer.Append(moments.slice(0, 2, 5, 1), flipped.slice(0, 2, 5, 1), labels[2..]);
        Assert.IsFalse(File.Exists(path), "the cache must not appear under its name before Commit");
        writer.Commit();
        return (moments, flipped, labels);
    }

    [TestMethod]
    public void RoundTripReadsAnyRecordsInAnyOrderWithFlipsAndLabels()
    {
        string path = TempFile();
        var (moments, flipped, labels) = Write(path);
        using var cache = MomentsCache.Open(path);
        Assert.AreEqual(Layout with { Count = 5 }, cache.Header with { ClassNames = Layout.ClassNames });
        CollectionAssert.AreEqual(new[] { "cat", "dög" }, cache.Header.ClassNames!.ToArray());
        long[] rows = [4, 0, 2, 4];
        bool[] flips = [false, true, false, true];
        using var read = cache.ReadMoments(rows, flips);                                            // [4, 8, 4, 4]
        for (int i = 0; i < rows.Length; i++)
            Assert.IsTrue((flips[i] ? flipped : moments)[rows[i]].allclose(read[i], rtol: 0, atol: 0), $"record {rows[i]} (flip {flips[i]}) differs");
        CollectionAssert.AreEqual(rows.Select(r => labels[r]).ToArray(), cache.ReadLabels(rows).data<long>().ToArray());
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => cache.ReadMoments([5]));
    }

    [TestMethod]
    public void TruncatedFileIsAnInvalidDataExceptionNamingIt()
    {
        string path = TempFile();
        Write(path);
        using (var stream = new FileStream(path, FileMode.Open)) stream.SetLength(stream.Length - 3);
        var error = Assert.ThrowsExactly<InvalidDataException>(() => MomentsCache.Open(path));
        StringAssert.Contains(error.Message, path);
        File.WriteAllBytes(path, "UVITMOMS"u8.ToArray());
        StringAssert.Contains(Assert.ThrowsExactly<InvalidDataException>(() => MomentsCache.Open(path)).Message, path);
        File.WriteAllBytes(path, new byte[64]);
        StringAssert.Contains(Assert.ThrowsExactly<InvalidDataException>(() => MomentsCache.Open(path)).Message, "not a moments cache");
    }

    [TestMethod]
    public void AnUncommittedWriterLeavesNoFile()
    {
        string path = TempFile();
        using (var writer = new MomentsCacheWriter(path, Layout with { HasFlipped = false, ClassNames = null }))
            writer.Append(zeros(2, 8, 4, 4));
        Assert.IsFalse(File.Exists(path));
        Assert.IsFalse(File.Exists(path + ".tmp"));
    }

    [TestMethod]
    public void SampledBatchEqualsSampleLatentOfTheChosenMomentsWithTheSameNoise()
    {
        string path = TempFile();
        var (moments, flipped, labels) = Write(path);
        using var cache = MomentsCache.Open(path);
        long[] rows = [3, 1, 0, 4, 2, 2];
        using var random = new Generator(11);
        var (latents, batchLabels) = cache.SampleBatch(rows, random);                              // [6, 4, 4, 4]

        using var replay = new Generator(11);                                                       // the same draws, in the documented order
        var coins = randint(0, 2, [rows.Length], dtype: ScalarType.Int64, generator: replay).data<long>().ToArray();
        var noise = randn([rows.Length, 4, 4, 4], generator: replay);                                // [6, E, h, w]
        Assert.IsTrue(coins.Distinct().Count() == 2, "the test needs both flip choices");
        var chosen = stack(rows.Select((r, i) => (coins[i] == 1 ? flipped : moments)[r]).ToArray()); // [6, 8, 4, 4]
        using var expected = AutoencoderKL.SampleLatent(chosen, noise, Layout.ScaleFactor);         // [6, 4, 4, 4]
        Assert.IsTrue(expected.allclose(latents, rtol: 0, atol: 0), "sampled latents differ from AutoencoderKL.SampleLatent");
        CollectionAssert.AreEqual(rows.Select(r => labels[r]).ToArray(), batchLabels!.data<long>().ToArray());
    }
}
