// `uvit export` and `uvit import` in fresh processes: a model zip exported to official checkpoint files and imported back
// generates bit-identical images (EMA and raw weights); an official torch.save file (the fixture written by the official
// code) goes through import and export keeping its keys and every bit of its tensors; a wrong or missing key is refused by name.
using Microsoft.ML;
using Microsoft.ML.Data;
using UViT.MLNet.Tests.Autoencoder;
using UViT.MLNet.Transforms.Latents;
using UViT.MLNet.Core.Checkpoints;
using UViT.MLNet.Core.Generation;
using UViT.MLNet.Core.Networks;
using UViT.MLNet.Core.Training;
using UViT.MLNet.Tests.Support;
using UViT.MLNet.Transforms.Generation;
using UViT.MLNet.Transforms.Interop;
using UViT.MLNet.Transforms.Persistence;
using static TorchSharp.torch;

namespace UViT.MLNet.Tests.Checkpoints;

[TestClass]
public sealed class OfficialHandOffCliTests
{
    public TestContext TestContext { get; set; } = null!;

    private string NewFolder() => TestContext.NewFolder();

    /// <summary>A guided 2-class model (class 2 = null) whose raw and EMA weights differ, with non-default settings and names.</summary>
    private static string SaveClassModel(string folder)
    {
        string zip = Path.Combine(folder, "model.zip");
        var mlContext = new MLContext(seed: 1).RegisterUViT();
        var config = new UViTConfig { ImageSize = 8, PatchSize = 4, InChannels = 3, EmbedDim = 16, Depth = 2, NumHeads = 2, NumClasses = 3 };
        using var generator = new UViTGenerationTransformer(
            new UViTGenerator(new UViTNetwork(config, seed: 1), new UViTNetwork(config, seed: 2), NoiseScheduleKind.DiscreteSD, nullClass: 2),
            new SamplerSettings { Steps = 3, GuidanceScale = 0.5 }, PixelRange.Bytes, ["cat", "dog"], batchSize: 2);
        mlContext.Model.SaveAtomically(generator, generator.CreateRequests(mlContext, [(0, 1L)]).Schema, zip);
        return zip;
    }

    /// <summary>Samples of a saved model in this process: [B, C, H, W] in model space, for fixed seeds and labels.</summary>
    private static Tensor Generate(string zip, bool ema)
    {
        var mlContext = new MLContext(seed: 0);
        var model = mlContext.LoadChecked(zip, out _);
        using var uvit = (UViTGenerationTransformer)model;
        return uvit.Generator.Generate([11, 12, 13], [0, 1, 0], uvit.Settings with { UseEmaWeights = ema });
    }

    [TestMethod]
    public void ExportedCheckpointsImportBackToAModelThatGeneratesBitIdenticalImages()
    {
        string root = NewFolder(), zip = SaveClassModel(root), exported = Path.Combine(root, "export"), imported = Path.Combine(root, "imported.zip");
        var (exit, log) = CliProcess.Run("export", zip, "--output", exported);
        Assert.AreEqual(0, exit, log);
        foreach (string file in new[] { "nnet.pth", "nnet_ema.pth" })
            Assert.AreEqual(StateDictFormat.TorchZip, StateDictFile.Detect(Path.Combine(exported, file)), $"{file} must be a torch.save zip archive");
        var handOff = OfficialHandOff.Read(Path.Combine(exported, "config.json"));
        Assert.AreEqual("uvit", handOff.Nnet["name"]!.ToString());
        Assert.IsNull(handOff.TrainScript, "the official code trains pixel models only with the continuous VP schedule");
        StringAssert.Contains(File.ReadAllText(Path.Combine(exported, "nnet_config.py")), "num_heads=2,");

        (exit, log) = CliProcess.Run("import", exported, "--output", imported);
        Assert.AreEqual(0, exit, log);
        foreach (bool ema in new[] { true, false })
        {
            using var scope = NewDisposeScope();
            Tensor before = Generate(zip, ema), after = Generate(imported, ema);
            Assert.IsTrue(Fixtures.Identical(before, after), $"{(ema ? "EMA" : "raw")} samples differ after export + import: max |diff| {Fixtures.MaxAbsDiff(before, after):E3}");
        }
        using (var scope = NewDisposeScope())
            Assert.IsFalse(Fixtures.Identical(Generate(zip, true), Generate(zip, false)), "raw and EMA weights must differ, or the comparison cannot tell them apart");

        // The command users run: `uvit sample` writes the same PNG bytes from both zips.
        foreach (var (model, folder) in new[] { (zip, "original"), (imported, "imported") })
        {
            (exit, log) = CliProcess.Run("sample", model, "--count", "2", "--out-dir", Path.Combine(root, folder));
            Assert.AreEqual(0, exit, log);
        }
        var original = Directory.GetFiles(Path.Combine(root, "original"), "*.png").Order().ToList();
        Assert.HasCount(4, original);
        foreach (string png in original)
            CollectionAssert.AreEqual(File.ReadAllBytes(png), File.ReadAllBytes(Path.Combine(root, "imported", Path.GetFileName(png))), Path.GetFileName(png));
    }

    [TestMethod]
    public void ALatentModelRoundTripsWithItsAutoencoderGivenToImport()
    {
        string root = NewFolder(), zip = Path.Combine(root, "latent.zip"), exported = Path.Combine(root, "export"), imported = Path.Combine(root, "imported.zip");
        string autoencoder = Fixtures.UViTPath(AutoencoderFixture.Files().WeightsFile);
        var mlContext = new MLContext(seed: 1).RegisterUViT();
        var autoencoderConfig = AutoencoderFixture.Config();
        int latentSide = 4, factor = autoencoderConfig.DownsampleFactor;
        var config = new UViTConfig { ImageSize = latentSide, PatchSize = 2, InChannels = autoencoderConfig.EmbedDim, EmbedDim = 16, Depth = 2, NumHeads = 2, NumClasses = 3 };
        using (var uvit = new UViTGenerationTransformer(
                   new UViTGenerator(new UViTNetwork(config, seed: 1), new UViTNetwork(config, seed: 2), NoiseScheduleKind.DiscreteSD, nullClass: 2),
                   new SamplerSettings { Steps = 2, GuidanceScale = 0.5 }, PixelRange.Symmetric, batchSize: 2))
        {
            var requests = uvit.CreateRequests(mlContext, [(0, 1L)]);
            using var decoder = mlContext.Transforms.DecodeLatents(autoencoder, autoencoder: autoencoderConfig).Fit(uvit.Transform(requests));
            mlContext.Model.SaveAtomically(uvit.Append(decoder), requests.Schema, zip);
        }
        var (exit, log) = CliProcess.Run("export", zip, "--output", exported);
        Assert.AreEqual(0, exit, log);
        Assert.AreEqual("train_ldm_discrete.py", OfficialHandOff.Read(Path.Combine(exported, "config.json")).TrainScript);
        (exit, log) = CliProcess.Run("import", exported, "--output", imported);
        Assert.AreEqual(1, exit, "a latent model without its autoencoder must be refused: " + log);
        StringAssert.Contains(log, "autoencoder");
        (exit, log) = CliProcess.Run("import", exported, "--autoencoder", autoencoder, "--output", imported);
        Assert.AreEqual(0, exit, log);

        List<MLImage> Images(string path)
        {
            var context = new MLContext(seed: 0);
            var model = context.LoadChecked(path, out _);
            var uvit = ((IEnumerable<ITransformer>)model).OfType<UViTGenerationTransformer>().Single();
            var images = model.Transform(uvit.CreateRequests(context, [(0, 5L), (1, 6L)])).ReadImages("DecodedImage");
            foreach (var stage in (IEnumerable<ITransformer>)model) (stage as IDisposable)?.Dispose();
            return images;
        }
        var before = Images(zip);
        var after = Images(imported);
        Assert.AreEqual(latentSide * factor, before[0].Width);
        for (int i = 0; i < before.Count; i++)
            CollectionAssert.AreEqual(before[i].Pixels.ToArray(), after[i].Pixels.ToArray(), $"decoded image {i} differs after export + import");
    }

    [TestMethod]
    public void AnOfficialTorchSaveFileKeepsItsKeysAndEveryBitThroughImportAndExport()
    {
        // uvit_cls.pth was written by the official code with torch.save; its architecture is inferred from the shapes (heads from the manifest).
        var files = Fixtures.ManifestFiles.ToDictionary(f => f.File, f => f.Entry);
        var twin = files.First(f => f.Key.EndsWith(".pth", StringComparison.Ordinal) && f.Value.TryGetProperty("same_as", out _));
        var arguments = files[twin.Value.GetProperty("same_as").GetString()!].GetProperty("config");
        string root = NewFolder(), zip = Path.Combine(root, "official.zip"), exported = Path.Combine(root, "export");
        var (exit, log) = CliProcess.Run("import", Fixtures.UViTPath(twin.Key), "--num-heads", arguments.GetProperty("num_heads").ToString(),
                                         "--schedule", "ContinuousVP", "--output", zip);
        Assert.AreEqual(0, exit, log);
        (exit, log) = CliProcess.Run("export", zip, "--output", exported);
        Assert.AreEqual(0, exit, log);

        Assert.AreEqual(UViTConfig.FromOfficialArguments(arguments), OfficialHandOff.Read(Path.Combine(exported, "config.json")).NetworkConfig());
        var official = StateDictFile.Read(Fixtures.UViTPath(twin.Key));
        foreach (string file in new[] { "nnet_ema.pth", "nnet.pth" })
        {
            var written = StateDictFile.Read(Path.Combine(exported, file));
            CollectionAssert.AreEquivalent(official.Keys.ToList(), written.Keys.ToList(), $"{file} must hold exactly the official keys");
            foreach (var (key, tensor) in official) Assert.IsTrue(Fixtures.Identical(tensor, written[key]), $"{file}: {key} changed");
            foreach (var tensor in written.Values) tensor.Dispose();
        }
        foreach (var tensor in official.Values) tensor.Dispose();
    }

    [TestMethod]
    public void ImportRefusesACheckpointWithAMissingOrRenamedKeyNamingBoth()
    {
        string root = NewFolder(), zip = SaveClassModel(root), exported = Path.Combine(root, "export");
        var (exit, log) = CliProcess.Run("export", zip, "--output", exported);
        Assert.AreEqual(0, exit, log);
        string ema = Path.Combine(exported, "nnet_ema.pth");
        var state = StateDictFile.Read(ema);
        state.Remove("norm.weight", out var dropped);
        state.Remove("mid_block.attn.qkv.weight", out var renamed);
        state["mid_block.attn.qkv.weights"] = renamed!;
        StateDictFile.WriteTorchZip(ema, state);
        dropped!.Dispose();
        foreach (var tensor in state.Values) tensor.Dispose();

        (exit, log) = CliProcess.Run("import", exported, "--output", Path.Combine(root, "imported.zip"));
        Assert.AreEqual(1, exit, log);
        foreach (string key in new[] { "norm.weight", "mid_block.attn.qkv.weight", "mid_block.attn.qkv.weights" }) StringAssert.Contains(log, key);
        Assert.IsFalse(File.Exists(Path.Combine(root, "imported.zip")), "a refused import must write no model");
    }
}
