// Every preset reproduces the official state-dict keys, shapes and parameter counts (official_configs.json).
using System.Text.Json;
using UViT.MLNet.Core.Networks;
using UViT.MLNet.Tests.Support;
using static TorchSharp.torch;

namespace UViT.MLNet.Tests.Networks;

[TestClass]
public sealed class OfficialConfigTests
{
    private static JsonElement OfficialConfigs => JsonDocument.Parse(File.ReadAllText(Fixtures.UViTPath("official_configs.json"))).RootElement;

    /// <summary>Every U-ViT entry (one with "nnet" arguments) of official_configs.json.</summary>
    public static IEnumerable<object[]> UViTEntries() =>
        OfficialConfigs.EnumerateObject().Where(p => p.Value.TryGetProperty("nnet", out _)).Select(p => new object[] { p.Name });

    [TestMethod]
    public void EveryOfficialUViTHasAPreset()
    {
        var names = UViTEntries().Select(e => (string)e[0]).ToList();
        Assert.IsNotEmpty(names);
        CollectionAssert.AreEquivalent(names, UViTPresets.All.Select(p => p.Name).ToList());
    }

    [TestMethod]
    [DynamicData(nameof(UViTEntries))]
    public void PresetMatchesOfficialKeysShapesAndParameterCount(string name)
    {
        var official = OfficialConfigs.GetProperty(name);
        var preset = UViTPresets.Get(name);
        Assert.AreEqual(UViTConfig.FromOfficialArguments(official.GetProperty("nnet")), preset.Config, "preset differs from the official constructor arguments");

        // Built on the meta device: real shapes and keys, no memory for 500M parameters.
        using var model = new UViTNetwork(preset.Config, device: META);
        var ours = model.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.shape);
        var expected = official.GetProperty("keys").EnumerateObject()
                               .ToDictionary(p => p.Name, p => p.Value.EnumerateArray().Select(d => d.GetInt64()).ToArray());
        CollectionAssert.AreEquivalent(expected.Keys.ToList(), ours.Keys.ToList(), "state-dict keys differ");
        foreach (var (key, shape) in expected) CollectionAssert.AreEqual(shape, ours[key], $"shape of {key}");
        Assert.AreEqual(official.GetProperty("params").GetInt64(), model.ParameterCount);
    }

    /// <summary>
    /// What `uvit import` relies on for checkpoints without a config: the shapes of every official class or unconditional
    /// model give back its official arguments (heads given); text models are refused by name. And what `uvit export` relies
    /// on to write keys in the official order: our state dict lists them as the official one does.
    /// </summary>
    [TestMethod]
    [DynamicData(nameof(UViTEntries))]
    public void ShapesGiveBackTheOfficialConfigAndKeysComeInTheOfficialOrder(string name)
    {
        var official = OfficialConfigs.GetProperty(name);
        var arguments = official.GetProperty("nnet");
        var shapes = official.GetProperty("keys").EnumerateObject()
                             .ToDictionary(p => p.Name, p => p.Value.EnumerateArray().Select(d => d.GetInt64()).ToArray());
        int heads = arguments.GetProperty("num_heads").GetInt32();
        if (arguments.TryGetProperty("clip_dim", out _))
            StringAssert.Contains(Assert.ThrowsExactly<ArgumentException>(() => UViTConfigInference.Infer(shapes, heads, name)).Message, "text-to-image");
        else
            Assert.AreEqual(UViTConfig.FromOfficialArguments(arguments), UViTConfigInference.Infer(shapes, heads, name));

        using var model = new UViTNetwork(UViTConfig.FromOfficialArguments(arguments), device: META);
        CollectionAssert.AreEqual(shapes.Keys.ToList(), model.state_dict().Keys.ToList(), "state-dict key order differs from the official one");
    }

    [TestMethod]
    public void PresetsResolveByPaperNameAndRejectAmbiguity()
    {
        Assert.AreEqual("imagenet256_uvit_huge", UViTPresets.Get("U-ViT-H/2").Name);
        Assert.AreEqual("imagenet256_uvit_huge", UViTPresets.Get("u-vit-h/2 imagenet 256").Name);
        Assert.AreEqual("mscoco_uvit_small", UViTPresets.Get("U-ViT-S/2 MS-COCO").Name);
        Assert.AreEqual("imagenet512_uvit_large", UViTPresets.Get("U-ViT-L/4 ImageNet 512").Name);
        var ambiguous = Assert.ThrowsExactly<ArgumentException>(() => UViTPresets.Get("U-ViT-S/2"));
        StringAssert.Contains(ambiguous.Message, "U-ViT-S/2 CIFAR-10");
        StringAssert.Contains(ambiguous.Message, "U-ViT-S/2 MS-COCO");
        var unknown = Assert.ThrowsExactly<ArgumentException>(() => UViTPresets.Get("U-ViT-XL/2"));
        StringAssert.Contains(unknown.Message, "imagenet256_uvit_huge");
    }

    [TestMethod]
    public void LatentPresetsCarryTheirAutoencoderScale()
    {
        // reference.md section 5: scale factor 0.18215, 0.23010 for the MS-COCO models; official_configs.json's KL-f8 entry.
        double official = OfficialConfigs.GetProperty("stable_diffusion_autoencoder_kl_f8").GetProperty("scale_factor").GetDouble();
        foreach (var preset in UViTPresets.All)
        {
            double? expected = preset.Config.InChannels != 4 ? null : preset.Dataset == "MS-COCO" ? 0.23010 : official;
            Assert.AreEqual(expected, preset.LatentScaleFactor, preset.Name);
        }
    }
}
