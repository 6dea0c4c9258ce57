// The two ablation options of UViTConfig (SkipMode Add, TimeConditioning AdaLayerNorm; not in the official code): the
// parameters each adds or removes, a forward pass at tiny size that reads the time and label, and the round trips through
// the stored arguments, a model zip and a training checkpoint. Default configs keep the official arguments exactly.
using System.Text.Json;
using Microsoft.ML;
using UViT.MLNet.Core.Networks;
using UViT.MLNet.Estimators;
using UViT.MLNet.Tests.Pipeline;
using UViT.MLNet.Transforms.Generation;
using UViT.MLNet.Transforms.Persistence;
using static TorchSharp.torch;

namespace UViT.MLNet.Tests.Networks;

[TestClass]
public sealed class AblationVariantTests
{
    public TestContext TestContext { get; set; } = null!;

    private static readonly UViTConfig Official = new() { ImageSize = 8, PatchSize = 2, InChannels = 1, EmbedDim = 16, Depth = 2, NumHeads = 2, NumClasses = 3 };

    private static UViTConfig RoundTrip(UViTConfig config) =>
        UViTConfig.FromOfficialArguments(JsonDocument.Parse(JsonSerializer.Serialize(config.ToOfficialArguments())).RootElement);

    private static Dictionary<string, long[]> Shapes(UViTConfig config)
    {
        using var network = new UViTNetwork(config, seed: 1);
        return network.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.shape);
    }

    [TestMethod]
    public void DefaultConfigsKeepTheOfficialArgumentsAndRoundTrip()
    {
        foreach (var config in new[] { Official, Official with { Skip = false, Conv = false }, UViTPresets.All[0].Config, UViTPresets.All[^1].Config })
        {
            var args = config.ToOfficialArguments();
            Assert.IsFalse(args.ContainsKey(UViTConfig.SkipModeArgument) || args.ContainsKey(UViTConfig.TimeConditioningArgument), "official arguments gained an ablation field");
            Assert.AreEqual(config, RoundTrip(config));
        }
    }

    [TestMethod]
    public void AddSkipDropsSkipLinearAndKeepsEveryOtherKey()
    {
        var official = Shapes(Official);
        var add = Shapes(Official with { SkipMode = UViTSkipMode.Add });
        Assert.IsTrue(official.Keys.Any(k => k.Contains("skip_linear")), "the official net should have skip_linear");
        CollectionAssert.AreEquivalent(official.Keys.Where(k => !k.Contains("skip_linear")).ToList(), add.Keys.ToList());
        var variant = Official with { SkipMode = UViTSkipMode.Add };
        Assert.AreEqual("add", variant.ToOfficialArguments()[UViTConfig.SkipModeArgument]);
        Assert.AreEqual(variant, RoundTrip(variant));
        Assert.Throws<ArgumentException>(() => (Official with { Skip = false, SkipMode = UViTSkipMode.Add }).Validate());
    }

    [TestMethod]
    public void AdaLayerNormAddsPerBlockModulationAndDropsTheTimeAndLabelTokens()
    {
        var variant = Official with { TimeConditioning = UViTTimeConditioning.AdaLayerNorm };
        var official = Shapes(Official);
        var ada = Shapes(variant);
        int d = Official.EmbedDim, patches = 16;
        string[] blocks = ["in_blocks.0", "mid_block", "out_blocks.0"];
        var added = blocks.SelectMany(b => new[] { $"{b}.ada_ln.weight", $"{b}.ada_ln.bias" }).ToList();
        CollectionAssert.AreEquivalent(official.Keys.Concat(added).ToList(), ada.Keys.ToList());
        foreach (string b in blocks)
        {
            CollectionAssert.AreEqual(new long[] { 4 * d, d }, ada[$"{b}.ada_ln.weight"]);
            CollectionAssert.AreEqual(new long[] { 4 * d }, ada[$"{b}.ada_ln.bias"]);
        }
        CollectionAssert.AreEqual(new long[] { 1, 2 + patches, d }, official["pos_embed"]);
        CollectionAssert.AreEqual(new long[] { 1, patches, d }, ada["pos_embed"], "time and label are no tokens with adaLN");
        Assert.AreEqual("adaln", variant.ToOfficialArguments()[UViTConfig.TimeConditioningArgument]);
        Assert.AreEqual(variant, RoundTrip(variant));
        var wrong = JsonDocument.Parse("""{"img_size": 8, "patch_size": 2, "time_conditioning": "film"}""").RootElement;
        StringAssert.Contains(Assert.Throws<ArgumentException>(() => UViTConfig.FromOfficialArguments(wrong)).Message, "time_conditioning 'film'");
    }

    [TestMethod]
    public void VariantsRunForwardAndReadTheTimeAndLabel()
    {
        foreach (var config in new[] { Official with { TimeConditioning = UViTTimeConditioning.AdaLayerNorm },
                                       Official with { SkipMode = UViTSkipMode.Add },
                                       Official with { SkipMode = UViTSkipMode.Add, TimeConditioning = UViTTimeConditioning.AdaLayerNorm } })
        {
            using var scope = NewDisposeScope();
            using var network = new UViTNetwork(config, seed: 3);
            using var noGrad = no_grad();
            var x = randn(2, 1, 8, 8, generator: new TorchSharp.torch.Generator(5));                 // [2, 1, 8, 8]
            var output = network.forward(x, tensor(new float[] { 10, 500 }), tensor(new long[] { 0, 2 }));
            CollectionAssert.AreEqual(new long[] { 2, 1, 8, 8 }, output.shape);
            Assert.IsTrue(output.isfinite().all().item<bool>());
            var otherTime = network.forward(x, tensor(new float[] { 900, 500 }), tensor(new long[] { 0, 2 }));
            var otherLabel = network.forward(x, tensor(new float[] { 10, 500 }), tensor(new long[] { 1, 2 }));
            Assert.IsGreaterThan(1e-6, (otherTime[0] - output[0]).abs().max().item<float>(), $"{config.TimeConditioning}/{config.SkipMode}: time ignored");
            Assert.IsGreaterThan(1e-6, (otherLabel[0] - output[0]).abs().max().item<float>(), $"{config.TimeConditioning}/{config.SkipMode}: label ignored");
            Assert.AreEqual(0f, (otherTime[1] - output[1]).abs().max().item<float>(), "rows must not mix");
        }
    }

    [TestMethod]
    public void VariantRoundTripsThroughAModelZipAndACheckpoint()
    {
        string folder = Path.Combine(TestContext.TestRunDirectory ?? Path.GetTempPath(), Guid.NewGuid().ToString("N"));
        var variant = PipelineFixture.TinyMnistNetwork with { SkipMode = UViTSkipMode.Add, TimeConditioning = UViTTimeConditioning.AdaLayerNorm };
        var mlContext = new MLContext(seed: 1);
        var data = PipelineFixture.Mnist(32).ToDataView(mlContext);
        UViTTrainerOptions Options(int steps)
        {
            var options = PipelineFixture.TinyOptions(steps);
            options.Network = variant;
            options.CheckpointDirectory = Path.Combine(folder, "checkpoint");
            options.CheckpointInterval = 2;
            return options;
        }
        using (mlContext.Diffusion().Trainers.UViT(Options(2)).Fit(data)) { }
        var resumed = Options(3);
        resumed.Resume = true;
        using var model = mlContext.Diffusion().Trainers.UViT(resumed).Fit(data);   // loads the variant's checkpoint strictly
        Assert.AreEqual(variant, model.Generator.Config);

        string zip = Path.Combine(folder, "model.zip");
        mlContext.Model.Save(model, data.Schema, zip);
        using var loaded = (UViTGenerationTransformer)new MLContext(seed: 2).RegisterUViT().Model.Load(zip, out _);
        Assert.AreEqual(variant, loaded.Generator.Config);
        var before = PipelineFixture.Pixels(model.Transform(PipelineFixture.Requests(mlContext, [(4, 9)])));
        var after = PipelineFixture.Pixels(loaded.Transform(PipelineFixture.Requests(mlContext, [(4, 9)])));
        CollectionAssert.AreEqual(before[0], after[0], "the variant generates differently after loading");
    }

    [TestMethod]
    public void AblationVariantsAreRefusedByTheOfficialExport()
    {
        foreach (var variant in new[] { Official with { SkipMode = UViTSkipMode.Add }, Official with { TimeConditioning = UViTTimeConditioning.AdaLayerNorm } })
        {
            using var model = new UViTGenerationTransformer(
                new UViT.MLNet.Core.Generation.UViTGenerator(new UViTNetwork(variant, seed: 1), new UViTNetwork(variant, seed: 2), UViT.MLNet.Core.Training.NoiseScheduleKind.ContinuousVP, nullClass: 2),
                new UViT.MLNet.Core.Generation.SamplerSettings { Steps = 1 }, PixelRange.Bytes);
            var error = Assert.ThrowsExactly<ArgumentException>(() => UViT.MLNet.Transforms.Interop.OfficialExport.Describe(model, decoder: null));
            StringAssert.Contains(error.Message, "ablation variant");
        }
        using var official = new UViTGenerationTransformer(
            new UViT.MLNet.Core.Generation.UViTGenerator(new UViTNetwork(Official, seed: 1), new UViTNetwork(Official, seed: 2), UViT.MLNet.Core.Training.NoiseScheduleKind.ContinuousVP, nullClass: 2),
            new UViT.MLNet.Core.Generation.SamplerSettings { Steps = 1 }, PixelRange.Bytes);
        Assert.IsNotNull(UViT.MLNet.Transforms.Interop.OfficialExport.Describe(official, decoder: null));
    }
}
