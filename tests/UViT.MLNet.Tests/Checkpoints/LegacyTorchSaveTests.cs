// Legacy (non-zip) torch.save files: a file written by real PyTorch (Data/LegacyTorchSave, see its README) reads to exactly
// the tensors of its safetensors twin, a {"state_dict": ...} container is unwrapped, and truncated or corrupt copies fail
// with an InvalidDataException that names the file.
using System.Text;
using UViT.MLNet.Core.Checkpoints;
using UViT.MLNet.Tests.Support;
using static TorchSharp.torch;

namespace UViT.MLNet.Tests.Checkpoints;

[TestClass]
public sealed class LegacyTorchSaveTests
{
    public TestContext TestContext { get; set; } = null!;

    private static string DataPath(string file) => Path.Combine(AppContext.BaseDirectory, "Data", "LegacyTorchSave", file);

    private static readonly string Legacy = DataPath("legacy_state_dict.pth");
    private static readonly string Twin = DataPath("legacy_state_dict.safetensors");

    private string WriteTemp(string name, byte[] bytes)
    {
        string path = Path.Combine(TestContext.TestRunDirectory ?? Path.GetTempPath(), Guid.NewGuid().ToString("N") + "_" + name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    /// <summary>Reads <paramref name="path"/> and asserts every tensor equals the twin's in dtype, shape and bits.</summary>
    private static void AssertSameAsTwin(string path)
    {
        using var scope = NewDisposeScope();
        var legacy = StateDictFile.Read(path);
        var twin = StateDictFile.Read(Twin);
        CollectionAssert.AreEquivalent(twin.Keys.ToList(), legacy.Keys.ToList());
        foreach (var (key, expected) in twin)
        {
            Assert.AreEqual(expected.dtype, legacy[key].dtype, key);
            Assert.IsTrue(Fixtures.Identical(legacy[key], expected), $"tensor {key} differs from the safetensors twin");
        }
    }

    private static int IndexOf(byte[] data, string latin1, int from = 0) =>
        from + data.AsSpan(from).IndexOf(Encoding.Latin1.GetBytes(latin1));

    [TestMethod]
    public void LegacyFileEqualsItsSafetensorsTwin()
    {
        Assert.AreEqual(StateDictFormat.TorchLegacy, StateDictFile.Detect(Legacy));
        using (var scope = NewDisposeScope())
        {
            var twin = StateDictFile.Read(Twin);
            string[] cases = ["extra.transposed", "extra.slice_at_offset", "extra.shared_a", "extra.shared_b", "extra.scalar",
                              "extra.empty", "extra.bool", "extra.bfloat16", "extra.half", "1.num_batches_tracked"];
            foreach (string key in cases) Assert.IsTrue(twin.ContainsKey(key), $"the test files lack the {key} case");
        }
        AssertSameAsTwin(Legacy);
    }

    [TestMethod]
    public void StateDictInsideAContainerIsUnwrapped()
    {
        // Rewrites the saved-object pickle from `od` to `{"state_dict": od, "epoch": 5}` (no new memo entries, so the
        // original pickle's memo references stay valid), as a training checkpoint saves it.
        byte[] bytes = File.ReadAllBytes(Legacy);
        int start = IndexOf(bytes, "\x80\x02" + "ccollections\nOrderedDict\n");
        int stop = IndexOf(bytes, ".\x80\x02]", start);                                // STOP, then the storage key list's pickle
        byte[] container = [.. bytes[..start], 0x80, 0x02, (byte)'}', .. CraftedFiles.BinUnicode("state_dict"), .. bytes[(start + 2)..stop],
                            (byte)'s', .. CraftedFiles.BinUnicode("epoch"), (byte)'K', 5, (byte)'s', .. bytes[stop..]];
        AssertSameAsTwin(WriteTemp("container.pth", container));
    }

    [TestMethod]
    public void ZipAndLegacyFilesReadInTurn()
    {
        // Both readers register constructors in Razorvine's one process-wide table: neither may break the other.
        string zip = Fixtures.UViTPath(Fixtures.ManifestFiles.First(f => f.File.EndsWith(".pth", StringComparison.Ordinal)).File);
        Assert.AreEqual(StateDictFormat.TorchZip, StateDictFile.Detect(zip));
        AssertSameAsTwin(Legacy);
        using (var scope = NewDisposeScope()) Assert.IsNotEmpty(StateDictFile.Read(zip));
        AssertSameAsTwin(Legacy);
    }

    [TestMethod]
    public void TruncatedLegacyFilesFailClearly()
    {
        byte[] bytes = File.ReadAllBytes(Legacy);
        // Inside the magic number, the header pickles, the saved object, the storage key list and the storage bytes.
        foreach (int cut in new[] { 2, 10, 16, 60, bytes.Length / 2, 2200, bytes.Length * 3 / 4, bytes.Length - 9, bytes.Length - 1 })
        {
            string truncated = WriteTemp($"cut{cut}.pth", bytes[..cut]);
            var error = Assert.ThrowsExactly<InvalidDataException>(() => StateDictFile.Read(truncated), $"cut at {cut}");
            StringAssert.Contains(error.Message, truncated, $"cut at {cut}");
            StringAssert.Contains(error.Message, "truncated", $"cut at {cut}: {error.Message}");
        }
    }

    [TestMethod]
    public void CorruptMagicNumberFailsClearly()
    {
        byte[] bytes = File.ReadAllBytes(Legacy);
        bytes[6] ^= 0xff;                                                                 // a byte of the 10-byte magic number
        string corrupt = WriteTemp("bad_magic.pth", bytes);
        var error = Assert.ThrowsExactly<InvalidDataException>(() => StateDictFile.Read(corrupt));
        StringAssert.Contains(error.Message, corrupt);
        StringAssert.Contains(error.Message, "magic number");
    }

    [TestMethod]
    public void UnknownStorageTypeIsNamed()
    {
        string text = Encoding.Latin1.GetString(File.ReadAllBytes(Legacy));
        Assert.Contains("torch\nBoolStorage\n", text);
        string corrupt = WriteTemp("qint8.pth", Encoding.Latin1.GetBytes(text.Replace("torch\nBoolStorage\n", "torch\nQInt8Storage\n")));
        var error = Assert.ThrowsExactly<InvalidDataException>(() => StateDictFile.Read(corrupt));
        StringAssert.Contains(error.Message, corrupt);
        StringAssert.Contains(error.Message, "torch.QInt8Storage");
    }

    [TestMethod]
    public void DeeplyNestedDictsFailCleanlyInsteadOfOverflowingTheStack()
    {
        // A recursive walk of 100,000 nested dicts overflows the stack, which kills the process; the reader must end in a clean error.
        string nested = WriteTemp("nested.pth", CraftedFiles.NestedLegacyPickle(100_000));
        var error = Assert.ThrowsExactly<InvalidDataException>(() => StateDictFile.Read(nested));
        StringAssert.Contains(error.Message, nested);
    }
}
