// The training store file (src/Core/Training/TrainingStore*.cs): written values read back exactly, for images with labels
// and for text contexts with several captions per row, and damaged files refused with an error that names the file.
using UViT.MLNet.Core.Training;
using static TorchSharp.torch;

namespace UViT.MLNet.Tests.Training;

[TestClass]
public sealed class TrainingStoreFormatTests
{
    public TestContext TestContext { get; set; } = null!;

    private string NewPath(string name)
    {
        string folder = Path.Combine(TestContext.TestRunDirectory ?? Path.GetTempPath(), "store-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        return Path.Combine(folder, name);
    }

    private static float[] Values(Random random, int count) => Enumerable.Range(0, count).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();

    /// <summary>Five labelled 2x3x3 images in a store; returns the path and the rows written.</summary>
    private string WriteImages(List<(float[] Values, int Label)> rows)
    {
        string path = NewPath("images.store");
        var random = new Random(3);
        using var writer = new TrainingStoreWriter(path, [2, 3, 3], ["a", "b", "c"]);
        for (int i = 0; i < 5; i++)
        {
            rows.Add((Values(random, 18), i % 3));
            writer.AppendRow(rows[^1].Values, rows[^1].Label);
        }
        writer.Commit();
        return path;
    }

    [TestMethod]
    public void ImagesAndLabelsReadBackExactly()
    {
        var rows = new List<(float[] Values, int Label)>();
        string path = WriteImages(rows);
        using var store = TrainingStore.Open(path);
        Assert.AreEqual(5L, store.Count);
        CollectionAssert.AreEqual(new[] { 2, 3, 3 }, store.Header.ItemShape.ToArray());
        CollectionAssert.AreEqual(new[] { "a", "b", "c" }, store.Header.ClassNames!.ToArray());
        long[] picked = [4, 0, 2, 2];
        using var items = store.ReadItems(picked);
        using var labels = store.ReadLabels(picked);
        CollectionAssert.AreEqual(new long[] { 4, 2, 3, 3 }, items.shape);
        CollectionAssert.AreEqual(picked.SelectMany(r => rows[(int)r].Values).ToArray(), items.data<float>().ToArray());
        CollectionAssert.AreEqual(picked.Select(r => (long)rows[(int)r].Label).ToArray(), labels.data<long>().ToArray());
        Assert.AreEqual((3L, 1L), store.Items(3));
        using var fingerprint = new TrainingStoreFingerprint();
        foreach (var (values, label) in rows) fingerprint.AddRow(values, 1, label);
        Assert.AreEqual(fingerprint.Current(), store.Header.Fingerprint);
    }

    [TestMethod]
    public void ContextsWithSeveralCaptionsPerRowReadBackExactly()
    {
        string path = NewPath("contexts.store");
        var random = new Random(4);
        int[] captions = [1, 3, 2];
        var rows = captions.Select(k => Values(random, k * 6)).ToList();                     // k contexts of [2, 3]
        using (var writer = new TrainingStoreWriter(path, [2, 3], rowTable: true))
        {
            foreach (var row in rows) writer.AppendRow(row);
            writer.Commit();
        }
        using var store = TrainingStore.Open(path);
        Assert.AreEqual(3L, store.Count);
        Assert.AreEqual(6L, store.Header.ItemCount);
        Assert.AreEqual((0L, 1L), store.Items(0));
        Assert.AreEqual((1L, 3L), store.Items(1));
        Assert.AreEqual((4L, 2L), store.Items(2));
        using var items = store.ReadItems([1, 2, 3, 5]);                                     // row 1's three captions, row 2's second
        CollectionAssert.AreEqual(new long[] { 4, 2, 3 }, items.shape);
        CollectionAssert.AreEqual(rows[1].Concat(rows[2][6..]).ToArray(), items.data<float>().ToArray());
    }

    [TestMethod]
    public void TruncatedOrDamagedStoreIsRefusedNamingTheFile()
    {
        string path = WriteImages([]);
        byte[] valid = File.ReadAllBytes(path);
        string damaged = Path.Combine(Path.GetDirectoryName(path)!, "damaged.store");
        void Refused(byte[] bytes, string expected)
        {
            File.WriteAllBytes(damaged, bytes);
            var e = Assert.ThrowsExactly<InvalidDataException>(() => TrainingStore.Open(damaged).Dispose());
            StringAssert.Contains(e.Message, damaged);
            StringAssert.Contains(e.Message, expected);
        }
        Refused(valid[..^1], "truncated or damaged");                                        // one byte short
        Refused([.. valid, 0], "truncated or damaged");                                      // one byte over
        Refused(valid[..40], "truncated inside its header");
        var magic = (byte[])valid.Clone();
        magic[0] = (byte)'X';
        Refused(magic, "not a training store");
        var count = (byte[])valid.Clone();
        BitConverter.TryWriteBytes(count.AsSpan(16), long.MaxValue);                          // N and M beyond the file
        BitConverter.TryWriteBytes(count.AsSpan(24), long.MaxValue);
        Refused(count, "claims");
        Assert.ThrowsExactly<FileNotFoundException>(() => TrainingStore.Open(damaged + ".missing"));
    }

    [TestMethod]
    public void DamagedRowTableIsRefusedWhenRead()
    {
        string path = NewPath("contexts.store");
        using (var writer = new TrainingStoreWriter(path, [1, 2], rowTable: true))
        {
            writer.AppendRow([1, 2, 3, 4]);
            writer.AppendRow([5, 6]);
            writer.Commit();
        }
        var bytes = File.ReadAllBytes(path);
        BitConverter.TryWriteBytes(bytes.AsSpan(bytes.Length - 16), 7L);                     // row 1 starts past the items
        File.WriteAllBytes(path, bytes);
        using var store = TrainingStore.Open(path);
        var e = Assert.ThrowsExactly<InvalidDataException>(() => store.Items(1));
        StringAssert.Contains(e.Message, path);
        StringAssert.Contains(e.Message, "row table");
    }

    [TestMethod]
    public void UncommittedWriterLeavesNoFile()
    {
        string path = NewPath("partial.store");
        using (var writer = new TrainingStoreWriter(path, [4]))
        {
            writer.AppendRow([1, 2, 3, 4]);
            Assert.ThrowsExactly<ArgumentException>(() => writer.AppendRow([1, 2, 3]));
        }
        Assert.IsFalse(File.Exists(path));
        Assert.IsFalse(Directory.EnumerateFiles(Path.GetDirectoryName(path)!).Any(), "the partial file was left behind");
    }
}
