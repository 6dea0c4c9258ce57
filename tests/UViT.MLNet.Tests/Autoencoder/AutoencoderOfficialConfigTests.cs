// The KL-f8 preset reproduces the official autoencoder's state-dict keys, shapes and parameter count
// (official_configs.json, entry with a "ddconfig"), built on the META device so no memory is allocated.
using System.Text.Json;
using UViT.MLNet.Core.Autoencoder;
using UViT.MLNet.Tests.Support;
using static TorchSharp.torch;

namespace UViT.MLNet.Tests.Autoencoder;

[TestClass]
public sealed class AutoencoderOfficialConfigTests
{
    private static JsonElement OfficialConfigs => JsonDocument.Parse(File.ReadAllText(Fixtures.UViTPath("official_configs.json"))).RootElement;

    /// <summary>Every autoencoder entry (one with a "ddconfig") of official_configs.json.</summary>
    public static IEnumerable<object[]> AutoencoderEntries() =>
        OfficialConfigs.EnumerateObject().Where(p => p.Value.TryGetProperty("ddconfig", out _)).Select(p => new object[] { p.Name });

    [TestMethod]
    public void OfficialConfigsHoldAnAutoencoder() => Assert.IsNotEmpty(AutoencoderEntries().ToList());

    [TestMethod]
    [DynamicData(nameof(AutoencoderEntries))]
    public void ConfigMatchesOfficialKeysShapesAndParameterCount(string name)
    {
        var official = OfficialConfigs.GetProperty(name);
        var config = AutoencoderKLConfig.FromOfficialEntry(official);

        using var model = new AutoencoderKL(config, device: META);
        var ours = model.state_dict().Select(kv => (kv.Key, Shape: kv.Value.shape)).ToList();
        var expected = official.GetProperty("keys").EnumerateObject()
                               .Select(p => (Key: p.Name, Shape: p.Value.EnumerateArray().Select(d => d.GetInt64()).ToArray())).ToList();
        CollectionAssert.AreEqual(expected.Select(e => e.Key).ToList(), ours.Select(o => o.Key).ToList(), "state-dict keys or their order differ");
        for (int i = 0; i < expected.Count; i++) CollectionAssert.AreEqual(expected[i].Shape, ours[i].Shape, $"shape of {expected[i].Key}");
        Assert.AreEqual(official.GetProperty("params").GetInt64(), model.ParameterCount);
    }

    [TestMethod]
    public void StableDiffusionPresetEqualsTheOfficialEntry()
    {
        var name = (string)AutoencoderEntries().Single(e => ((string)e[0]).Contains("stable_diffusion", StringComparison.Ordinal))[0];
        var official = AutoencoderKLConfig.FromOfficialEntry(OfficialConfigs.GetProperty(name));
        Assert.AreEqual(official, AutoencoderKLConfig.StableDiffusionKLF8);
        Assert.AreEqual(8, official.DownsampleFactor);
        Assert.AreEqual(AutoencoderKLConfig.StableDiffusionKLF8 with { ScaleFactor = 0.23010 }, AutoencoderKLConfig.StableDiffusionKLF8MsCoco);
    }

    [TestMethod]
    public void DdConfigRoundTripsAndRejectsUnsupportedOptions()
    {
        var config = AutoencoderFixture.Config();
        var json = JsonSerializer.SerializeToElement(config.ToOfficialDdConfig());
        Assert.AreEqual(config, AutoencoderKLConfig.FromOfficialDdConfig(json, config.EmbedDim, config.ScaleFactor));

        var unknown = Assert.ThrowsExactly<ArgumentException>(() =>
            AutoencoderKLConfig.FromOfficialDdConfig(JsonDocument.Parse("""{"ch": 32, "chmult": [1, 2]}""").RootElement));
        StringAssert.Contains(unknown.Message, "chmult");
        var tanh = Assert.ThrowsExactly<ArgumentException>(() =>
            AutoencoderKLConfig.FromOfficialDdConfig(JsonDocument.Parse("""{"tanh_out": true}""").RootElement));
        StringAssert.Contains(tanh.Message, "tanh_out");
        var singleZ = Assert.ThrowsExactly<ArgumentException>(() =>
            AutoencoderKLConfig.FromOfficialDdConfig(JsonDocument.Parse("""{"double_z": false}""").RootElement));
        StringAssert.Contains(singleZ.Message, "DoubleZ");
        var groups = Assert.ThrowsExactly<ArgumentException>(() => new AutoencoderKLConfig { Ch = 48 }.Validate());
        StringAssert.Contains(groups.Message, "32");
    }

    [TestMethod]
    public void AttentionResolutionsAddLevelAttention()
    {
        // attn_resolutions is honoured at the sides the official curr_res arithmetic gives: encoder level i runs at
        // resolution / 2^i, decoder level i too (decoder.up.0 highest). Resolution 32, ch_mult [1, 2]: side 16 = level 1.
        var config = new AutoencoderKLConfig { Ch = 32, ChMult = [1, 2], NumResBlocks = 1, Resolution = 32, AttnResolutions = [16] };
        using var model = new AutoencoderKL(config, device: META);
        var keys = model.state_dict().Keys.ToList();
        Assert.IsTrue(keys.Contains("encoder.down.1.attn.0.q.weight"), "encoder level 1 (side 16) needs attention");
        Assert.IsFalse(keys.Any(k => k.StartsWith("encoder.down.0.attn", StringComparison.Ordinal)), "encoder level 0 (side 32) has none");
        Assert.IsTrue(keys.Contains($"decoder.up.1.attn.{config.NumResBlocks}.proj_out.weight"), "decoder level 1 has one attention per block");
        Assert.IsFalse(keys.Any(k => k.StartsWith("decoder.up.0.attn", StringComparison.Ordinal)), "decoder level 0 (side 32) has none");
    }

    [TestMethod]
    public void FreshAutoencoderHasPyTorchNormInitAndDecodesFiniteImages()
    {
        // Before any checkpoint is loaded (random stand-ins, training from scratch): GroupNorm starts at weight 1, bias 0.
        using var model = new AutoencoderKL(new AutoencoderKLConfig { Ch = 32, ChMult = [1, 2], NumResBlocks = 1 });
        model.eval();
        foreach (var (name, parameter) in model.named_parameters().Where(p => p.name.Contains("norm", StringComparison.Ordinal)))
        {
            float expected = name.EndsWith(".weight", StringComparison.Ordinal) ? 1f : 0f;
            using var wrong = parameter.ne(expected).any();
            Assert.IsFalse(wrong.item<bool>(), $"{name} does not start at {expected}");
        }
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        using var generator = new TorchSharp.torch.Generator(1);
        var decoded = model.Decode(randn([2, 4, 8, 8], generator: generator));
        Assert.IsTrue(decoded.isfinite().all().item<bool>(), "a fresh autoencoder decoded non-finite values");
    }
}
