// Weight I/O: the .pth and .safetensors forms of the official checkpoint load to the same tensors, saves round-trip,
// and every kind of bad checkpoint fails with an error that names what is wrong.
using System.Text.Json;
using UViT.MLNet.Core.Checkpoints;
using UViT.MLNet.Core.Networks;
using UViT.MLNet.Tests.Support;
using static TorchSharp.torch;

namespace UViT.MLNet.Tests.Checkpoints;

[TestClass]
public sealed class CheckpointTests
{
    public TestContext TestContext { get; set; } = null!;

    /// <summary>The .pth fixture and the safetensors file it is declared the same as (manifest "same_as").</summary>
    private static (string Pth, string Safetensors, UViTConfig Config) TwinFixture()
    {
        var files = Fixtures.ManifestFiles.ToDictionary(f => f.File, f => f.Entry);
        var (pth, entry) = files.First(f => f.Value.TryGetProperty("same_as", out _));
        string safetensors = entry.GetProperty("same_as").GetString()!;
        return (pth, safetensors, UViTConfig.FromOfficialArguments(files[safetensors].GetProperty("config")));
    }

    private string TempFile(string name) => Path.Combine(TestContext.TestRunDirectory ?? Path.GetTempPath(), Guid.NewGuid().ToString("N") + "_" + name);

    [TestMethod]
    public void TorchSaveAndSafetensorsFormsAreIdentical()
    {
        var (pth, safetensors, _) = TwinFixture();
        Assert.AreEqual(StateDictFormat.TorchZip, StateDictFile.Detect(Fixtures.UViTPath(pth)));
        Assert.AreEqual(StateDictFormat.Safetensors, StateDictFile.Detect(Fixtures.UViTPath(safetensors)));
        using var scope = NewDisposeScope();
        var a = StateDictFile.Read(Fixtures.UViTPath(pth));
        var b = StateDictFile.Read(Fixtures.UViTPath(safetensors));
        CollectionAssert.AreEquivalent(b.Keys.ToList(), a.Keys.ToList());
        foreach (var key in b.Keys) Assert.IsTrue(Fixtures.Identical(a[key], b[key]), $"tensor {key} differs between {pth} and {safetensors}");
    }

    [TestMethod]
    public void SavedSafetensorsReloadToTheSameWeights()
    {
        var (_, safetensors, config) = TwinFixture();
        using var model = new UViTNetwork(config);
        StateDictLoader.LoadFile(model, Fixtures.UViTPath(safetensors));
        string saved = TempFile("saved.safetensors");
        StateDictLoader.SaveFile(model, saved);
        Assert.IsEmpty(Directory.GetFiles(Path.GetDirectoryName(saved)!, "*.tmp"), "the atomic write left a temp file behind");

        using var scope = NewDisposeScope();
        var original = StateDictFile.Read(Fixtures.UViTPath(safetensors));
        var reloaded = StateDictFile.Read(saved);
        CollectionAssert.AreEquivalent(original.Keys.ToList(), reloaded.Keys.ToList());
        foreach (var key in original.Keys) Assert.IsTrue(Fixtures.Identical(original[key], reloaded[key]), key);
    }

    [TestMethod]
    public void RenamedKeyIsNamedAsMissingAndUnexpected()
    {
        var (_, safetensors, config) = TwinFixture();
        using var model = new UViTNetwork(config);
        using var scope = NewDisposeScope();
        var state = StateDictFile.Read(Fixtures.UViTPath(safetensors));
        state["norm.gamma"] = state["norm.weight"];
        state.Remove("norm.weight");
        var error = Assert.ThrowsExactly<CheckpointMismatchException>(() => StateDictLoader.Load(model, state));
        CollectionAssert.AreEqual(new[] { "norm.weight" }, error.MissingKeys.ToArray());
        CollectionAssert.AreEqual(new[] { "norm.gamma" }, error.UnexpectedKeys.ToArray());
        StringAssert.Contains(error.Message, "norm.weight");
        StringAssert.Contains(error.Message, "norm.gamma");
    }

    [TestMethod]
    public void WrongShapeIsNamedWithBothShapesAndNothingIsCopied()
    {
        var (_, safetensors, config) = TwinFixture();
        using var model = new UViTNetwork(config);
        using var before = model.state_dict()["pos_embed"].clone();
        using var scope = NewDisposeScope();
        var state = StateDictFile.Read(Fixtures.UViTPath(safetensors));
        var pos = state["pos_embed"];
        state["pos_embed"] = pos[.., 1..];                                   // one token short: a different img_size or class setting
        var error = Assert.ThrowsExactly<CheckpointMismatchException>(() => StateDictLoader.Load(model, state));
        Assert.HasCount(1, error.ShapeMismatches);
        StringAssert.Contains(error.ShapeMismatches[0], "pos_embed");
        StringAssert.Contains(error.ShapeMismatches[0], $"checkpoint [1, {pos.shape[1] - 1}, {pos.shape[2]}] vs model [{string.Join(", ", pos.shape)}]");
        Assert.IsTrue(Fixtures.Identical(before, model.state_dict()["pos_embed"]), "a failed load must leave the model unchanged");
    }

    [TestMethod]
    public void NonStrictLoadReportsWhatItSkipped()
    {
        var (_, safetensors, config) = TwinFixture();
        using var model = new UViTNetwork(config);
        using var scope = NewDisposeScope();
        var state = StateDictFile.Read(Fixtures.UViTPath(safetensors));
        state.Remove("decoder_pred.bias");
        state["loss.logvar"] = zeros(1);
        var report = StateDictLoader.Load(model, state, strict: false);
        CollectionAssert.AreEqual(new[] { "decoder_pred.bias" }, report.MissingKeys.ToArray());
        CollectionAssert.AreEqual(new[] { "loss.logvar" }, report.UnexpectedKeys.ToArray());
        Assert.IsTrue(Fixtures.Identical(model.state_dict()["norm.weight"], state["norm.weight"]));
    }

    [TestMethod]
    public void PrefixedKeysGetAHint()
    {
        var (_, safetensors, config) = TwinFixture();
        using var model = new UViTNetwork(config);
        using var scope = NewDisposeScope();
        var state = StateDictFile.Read(Fixtures.UViTPath(safetensors)).ToDictionary(kv => "module." + kv.Key, kv => kv.Value);
        var error = Assert.ThrowsExactly<CheckpointMismatchException>(() => StateDictLoader.Load(model, state));
        StringAssert.Contains(error.Message, "prefixed with 'module.'");
    }

    [TestMethod]
    public void AnotherModelsKeysGetNoPrefixHint()
    {
        // An autoencoder-like checkpoint: a few keys end like U-ViT keys ("...norm.weight") but no prefix explains the mismatch.
        var (_, safetensors, config) = TwinFixture();
        using var model = new UViTNetwork(config);
        using var scope = NewDisposeScope();
        var state = new Dictionary<string, Tensor>
        {
            ["encoder.mid.attn_1.norm.weight"] = zeros(4),
            ["encoder.mid.attn_1.norm.bias"] = zeros(4),
            ["decoder.conv_out.weight"] = zeros(3, 4, 3, 3),
        };
        var error = Assert.ThrowsExactly<CheckpointMismatchException>(() => StateDictLoader.Load(model, state));
        Assert.DoesNotContain("prefixed", error.Message);
        StringAssert.Contains(error.Message, "encoder.mid.attn_1.norm.weight");
    }

    [TestMethod]
    public void TruncatedFilesFailClearly()
    {
        var (pth, safetensors, config) = TwinFixture();
        using var model = new UViTNetwork(config);
        foreach (string file in new[] { pth, safetensors })
        {
            byte[] bytes = File.ReadAllBytes(Fixtures.UViTPath(file));
            string truncated = TempFile("truncated_" + file);
            File.WriteAllBytes(truncated, bytes[..(bytes.Length / 2)]);
            var error = Assert.ThrowsExactly<InvalidDataException>(() => StateDictLoader.LoadFile(model, truncated), file);
            StringAssert.Contains(error.Message, truncated);
        }
    }

    [TestMethod]
    public void CorruptFilesAndPlainPicklesFailClearly()
    {
        string garbage = TempFile("garbage.pth");
        File.WriteAllText(garbage, "this is not a checkpoint");
        StringAssert.Contains(Assert.ThrowsExactly<InvalidDataException>(() => StateDictFile.Read(garbage)).Message, "neither a safetensors file nor a torch.save file");

        string pickle = TempFile("plain.pkl");
        File.WriteAllBytes(pickle, [0x80, 0x02, 0x7d, 0x71, 0x00, 0x2e]);                          // pickle.dumps({}, protocol=2)
        var error = Assert.ThrowsExactly<InvalidDataException>(() => StateDictFile.Read(pickle));
        StringAssert.Contains(error.Message, pickle);
        StringAssert.Contains(error.Message, "not a torch.save file");

        Assert.ThrowsExactly<FileNotFoundException>(() => StateDictFile.Read(TempFile("missing.safetensors")));
    }
}
