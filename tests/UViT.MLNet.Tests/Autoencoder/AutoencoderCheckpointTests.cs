// User checkpoints in every layout load into the same model: the fixture's CompVis weights are rewritten into the
// latent-diffusion (first_stage_model. + loss.*) and diffusers layouts, saved, loaded back and compared exactly.
// Because a round trip through our own map cannot catch a wrong map, specific diffusers names are also checked
// against the names diffusers' AutoencoderKL uses for Stable Diffusion's VAE.
using System.Text.Json;
using UViT.MLNet.Core.Autoencoder;
using UViT.MLNet.Core.Checkpoints;
using UViT.MLNet.Tests.Support;
using static TorchSharp.torch;

namespace UViT.MLNet.Tests.Autoencoder;

[TestClass]
public sealed class AutoencoderCheckpointTests
{
    public TestContext TestContext { get; set; } = null!;

    private string TempFile(string name) => Path.Combine(TestContext.TestRunDirectory ?? Path.GetTempPath(), Guid.NewGuid().ToString("N") + "_" + name);

    private static Dictionary<string, Tensor> FixtureWeights() => Fixtures.Tensors(AutoencoderFixture.Files().WeightsFile);

    /// <summary>Loads <paramref name="path"/> through AutoencoderCheckpoint and asserts every weight and the decoded fixture latents equal the fixture model's, bit for bit.</summary>
    private static AutoencoderCheckpointReport AssertLoadsLikeTheFixture(string path)
    {
        using var reference = AutoencoderFixture.LoadModel();
        using var model = new AutoencoderKL(reference.Config);
        var report = model.LoadCheckpoint(path);
        model.eval();

        using var scope = NewDisposeScope();
        var expected = reference.state_dict();
        var loaded = model.state_dict();
        CollectionAssert.AreEqual(expected.Keys.ToList(), loaded.Keys.ToList());
        foreach (var (key, tensor) in expected) Assert.IsTrue(Fixtures.Identical(tensor, loaded[key]), $"weight {key} differs");
        var io = Fixtures.Tensors(AutoencoderFixture.Files().IoFile);
        using var noGrad = no_grad();
        Assert.IsTrue(Fixtures.Identical(reference.Decode(io["z"]), model.Decode(io["z"])), "decoded images differ");
        Assert.IsTrue(Fixtures.Identical(reference.Moments(io["x"]), model.Moments(io["x"])), "moments differ");
        return report;
    }

    [TestMethod]
    public void OfficialFlatStateDictLoads()
    {
        var report = AssertLoadsLikeTheFixture(Fixtures.UViTPath(AutoencoderFixture.Files().WeightsFile));
        Assert.AreEqual(AutoencoderCheckpointLayout.CompVis, report.Layout);
        Assert.IsEmpty(report.DroppedKeys);
    }

    [TestMethod]
    public void LatentDiffusionCheckpointWithLossKeysLoads()
    {
        using var scope = NewDisposeScope();
        var weights = FixtureWeights();
        var ldm = weights.ToDictionary(kv => AutoencoderCheckpoint.LatentDiffusionPrefix + kv.Key, kv => kv.Value);
        string[] foreign = ["first_stage_model.loss.logvar", "first_stage_model.loss.discriminator.main.0.weight",
                            "model.diffusion_model.out.2.weight", "cond_stage_model.transformer.text_model.final_layer_norm.weight"];
        foreach (string key in foreign) ldm[key] = zeros(3);
        string path = TempFile("ldm.safetensors");
        StateDictFile.WriteSafetensors(path, ldm);

        var report = AssertLoadsLikeTheFixture(path);
        Assert.AreEqual(AutoencoderCheckpointLayout.LatentDiffusion, report.Layout);
        CollectionAssert.AreEquivalent(foreign, report.DroppedKeys.ToArray());
    }

    [TestMethod]
    public void AutoencoderTrainingCheckpointDropsLossKeys()
    {
        using var scope = NewDisposeScope();
        var weights = FixtureWeights();
        weights["loss.logvar"] = zeros(1);
        weights["loss.perceptual_loss.net.slice1.0.weight"] = zeros(4, 3, 3, 3);
        string path = TempFile("ae_train.safetensors");
        StateDictFile.WriteSafetensors(path, weights);

        var report = AssertLoadsLikeTheFixture(path);
        Assert.AreEqual(AutoencoderCheckpointLayout.CompVis, report.Layout);
        CollectionAssert.AreEquivalent(new[] { "loss.logvar", "loss.perceptual_loss.net.slice1.0.weight" }, report.DroppedKeys.ToArray());
    }

    [TestMethod]
    public void DiffusersCheckpointLoads()
    {
        var config = AutoencoderFixture.Config();
        using var scope = NewDisposeScope();
        var diffusers = DiffusersVaeKeyMap.ToDiffusers(FixtureWeights(), config.Levels);
        Assert.IsTrue(DiffusersVaeKeyMap.IsDiffusersLayout(diffusers.Keys));
        Assert.IsFalse(diffusers.Keys.Any(k => k.Contains(".mid.", StringComparison.Ordinal) || k.Contains(".up.", StringComparison.Ordinal)),
                       "a CompVis name survived the conversion");
        var toQ = diffusers["encoder.mid_block.attentions.0.to_q.weight"];
        Assert.AreEqual(2, toQ.dim(), "diffusers stores attention projections as Linear [C, C]");
        string path = TempFile("diffusers.safetensors");
        StateDictFile.WriteSafetensors(path, diffusers);

        Assert.AreEqual(AutoencoderCheckpointLayout.Diffusers, AssertLoadsLikeTheFixture(path).Layout);
    }

    [TestMethod]
    public void LegacyDiffusersAttentionNamesLoad()
    {
        var config = AutoencoderFixture.Config();
        using var scope = NewDisposeScope();
        var legacy = DiffusersVaeKeyMap.ToDiffusers(FixtureWeights(), config.Levels).ToDictionary(
            kv => kv.Key.Replace(".to_q.", ".query.").Replace(".to_k.", ".key.").Replace(".to_v.", ".value.").Replace(".to_out.0.", ".proj_attn."),
            kv => kv.Value);
        Assert.IsTrue(legacy.ContainsKey("decoder.mid_block.attentions.0.proj_attn.weight"));
        string path = TempFile("diffusers_legacy.safetensors");
        StateDictFile.WriteSafetensors(path, legacy);
        Assert.AreEqual(AutoencoderCheckpointLayout.Diffusers, AssertLoadsLikeTheFixture(path).Layout);
    }

    [TestMethod]
    [DataRow("encoder.conv_in.weight", "encoder.conv_in.weight")]
    [DataRow("encoder.down_blocks.0.resnets.1.norm1.weight", "encoder.down.0.block.1.norm1.weight")]
    [DataRow("encoder.down_blocks.1.resnets.0.conv_shortcut.weight", "encoder.down.1.block.0.nin_shortcut.weight")]
    [DataRow("encoder.down_blocks.2.downsamplers.0.conv.bias", "encoder.down.2.downsample.conv.bias")]
    [DataRow("encoder.mid_block.resnets.0.conv2.weight", "encoder.mid.block_1.conv2.weight")]
    [DataRow("encoder.mid_block.resnets.1.norm2.bias", "encoder.mid.block_2.norm2.bias")]
    [DataRow("encoder.mid_block.attentions.0.group_norm.weight", "encoder.mid.attn_1.norm.weight")]
    [DataRow("encoder.mid_block.attentions.0.to_q.weight", "encoder.mid.attn_1.q.weight")]
    [DataRow("encoder.mid_block.attentions.0.to_out.0.bias", "encoder.mid.attn_1.proj_out.bias")]
    [DataRow("decoder.mid_block.attentions.0.key.weight", "decoder.mid.attn_1.k.weight")]
    [DataRow("decoder.mid_block.attentions.0.proj_attn.weight", "decoder.mid.attn_1.proj_out.weight")]
    [DataRow("encoder.conv_norm_out.weight", "encoder.norm_out.weight")]
    [DataRow("decoder.conv_norm_out.bias", "decoder.norm_out.bias")]
    [DataRow("decoder.up_blocks.0.resnets.2.conv1.weight", "decoder.up.3.block.2.conv1.weight")]
    [DataRow("decoder.up_blocks.0.upsamplers.0.conv.weight", "decoder.up.3.upsample.conv.weight")]
    [DataRow("decoder.up_blocks.2.resnets.0.conv_shortcut.bias", "decoder.up.1.block.0.nin_shortcut.bias")]
    [DataRow("decoder.up_blocks.3.resnets.0.conv_shortcut.weight", "decoder.up.0.block.0.nin_shortcut.weight")]
    [DataRow("quant_conv.weight", "quant_conv.weight")]
    [DataRow("post_quant_conv.bias", "post_quant_conv.bias")]
    // Not VAE names: left alone so that a strict load reports them.
    [DataRow("decoder.down_blocks.0.resnets.0.conv1.weight", "decoder.down_blocks.0.resnets.0.conv1.weight")]
    [DataRow("decoder.up_blocks.4.resnets.0.conv1.weight", "decoder.up_blocks.4.resnets.0.conv1.weight")]
    public void DiffusersNamesMapToCompVisNames(string diffusers, string compVis)
    {
        // Four levels, as Stable Diffusion's VAE (diffusers' up_blocks.0 is the lowest resolution).
        Assert.AreEqual(compVis, DiffusersVaeKeyMap.ToCompVisKey(diffusers, levels: 4));
    }

    [TestMethod]
    public void StableDiffusionKeysMapToDiffusersNamesWithTheRightShapes()
    {
        // Every official KL-f8 key has a diffusers twin and maps back; shapes of known diffusers tensors follow from it.
        var official = JsonDocument.Parse(File.ReadAllText(Fixtures.UViTPath("official_configs.json"))).RootElement
            .EnumerateObject().Single(p => p.Value.TryGetProperty("ddconfig", out _)).Value;
        var config = AutoencoderKLConfig.FromOfficialEntry(official);
        var shapes = official.GetProperty("keys").EnumerateObject()
                             .ToDictionary(p => DiffusersVaeKeyMap.ToDiffusersKey(p.Name, config.Levels), p => p.Value.EnumerateArray().Select(d => d.GetInt64()).ToArray());
        Assert.HasCount(official.GetProperty("keys").EnumerateObject().Count(), shapes, "two CompVis keys map to one diffusers key");
        foreach (var (diffusers, _) in shapes)
            Assert.IsFalse(diffusers.Contains(".up.", StringComparison.Ordinal) || diffusers.Contains(".down.", StringComparison.Ordinal) || diffusers.Contains(".mid.", StringComparison.Ordinal), diffusers);
        foreach (var p in official.GetProperty("keys").EnumerateObject())
            Assert.AreEqual(p.Name, DiffusersVaeKeyMap.ToCompVisKey(DiffusersVaeKeyMap.ToDiffusersKey(p.Name, config.Levels), config.Levels));

        CollectionAssert.AreEqual(new long[] { 512, 512, 3, 3 }, shapes["decoder.up_blocks.0.resnets.0.conv1.weight"], "up_blocks.0 is the lowest resolution (512 channels)");
        CollectionAssert.AreEqual(new long[] { 128, 256, 1, 1 }, shapes["decoder.up_blocks.3.resnets.0.conv_shortcut.weight"]);
        CollectionAssert.AreEqual(new long[] { 256, 128, 1, 1 }, shapes["encoder.down_blocks.1.resnets.0.conv_shortcut.weight"]);
        CollectionAssert.AreEqual(new long[] { 512, 512, 1, 1 }, shapes["encoder.mid_block.attentions.0.to_q.weight"]);
        Assert.IsTrue(shapes.ContainsKey("decoder.up_blocks.2.upsamplers.0.conv.weight"));
        Assert.IsFalse(shapes.ContainsKey("decoder.up_blocks.3.upsamplers.0.conv.weight"), "the highest-resolution up block has no upsampler");
        Assert.IsFalse(shapes.ContainsKey("encoder.down_blocks.3.downsamplers.0.conv.weight"), "the lowest-resolution down block has no downsampler");
        Assert.AreEqual(3, shapes.Keys.Count(k => k.StartsWith("decoder.up_blocks.0.resnets.", StringComparison.Ordinal) && k.EndsWith(".conv1.weight", StringComparison.Ordinal)),
                        "decoder up blocks have num_res_blocks + 1 resnets");
    }

    [TestMethod]
    public void DiffusersMismatchNamesTheOffendingKeys()
    {
        var config = AutoencoderFixture.Config();
        using var model = new AutoencoderKL(config);
        using var scope = NewDisposeScope();
        var diffusers = DiffusersVaeKeyMap.ToDiffusers(FixtureWeights(), config.Levels);
        diffusers.Remove("decoder.mid_block.attentions.0.to_k.weight");
        diffusers["decoder.mid_block.attentions.0.to_k.lora_down.weight"] = zeros(1);
        var error = Assert.ThrowsExactly<CheckpointMismatchException>(() => AutoencoderCheckpoint.Load(model, diffusers, "vae.safetensors"));
        CollectionAssert.AreEqual(new[] { "decoder.mid.attn_1.k.weight" }, error.MissingKeys.ToArray());
        Assert.HasCount(1, error.UnexpectedKeys);
        StringAssert.Contains(error.UnexpectedKeys[0], "lora_down");
        StringAssert.Contains(error.Message, "vae.safetensors");
        StringAssert.Contains(error.Message, "Diffusers");
    }

    [TestMethod]
    public void WrongAutoencoderFailsWithShapeMismatches()
    {
        var config = AutoencoderFixture.Config();
        using var model = new AutoencoderKL(config with { Ch = config.Ch * 2 });
        var error = Assert.ThrowsExactly<CheckpointMismatchException>(() => model.LoadCheckpoint(Fixtures.UViTPath(AutoencoderFixture.Files().WeightsFile)));
        Assert.IsNotEmpty(error.ShapeMismatches);
        StringAssert.Contains(error.Message, "encoder.conv_in.weight");
    }
}
