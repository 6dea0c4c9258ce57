// `uvit sample --out-dir` in fresh processes on a tiny random-weight class model: three shards write the same PNG bytes as
// one process, their merged FID sums (`uvit fid merge`) equal the statistics of the whole folder (`uvit fid stats`) to 1e-9
// relative, a shard restarted after a kill keeps the images it already wrote and finishes the rest, and the Slurm and
// Kubernetes index variables choose the shard.
using Microsoft.ML;
using UViT.MLNet.Core.Training;
using UViT.MLNet.Core.Evaluation;
using UViT.MLNet.Core.Generation;
using UViT.MLNet.Core.Networks;
using UViT.MLNet.Tests.Evaluation;
using UViT.MLNet.Tests.Support;
using UViT.MLNet.Transforms.Generation;
using UViT.MLNet.Transforms.Persistence;

namespace UViT.MLNet.Tests.Sharding;

[TestClass]
public sealed class ShardedSamplingCliTests
{
    public TestContext TestContext { get; set; } = null!;

    private string NewFolder() => TestContext.NewFolder();

    /// <summary>A 2-class RGB model with random weights (the pixels only need to differ per seed), saved as a library user would.</summary>
    private static string SaveClassModel(string folder)
    {
        string zip = Path.Combine(folder, "model.zip");
        var mlContext = new MLContext(seed: 1).RegisterUViT();
        var config = new UViTConfig { ImageSize = 8, PatchSize = 4, InChannels = 3, EmbedDim = 16, Depth = 1, NumHeads = 2, NumClasses = 3 };
        using var generator = new UViTGenerationTransformer(new UViTGenerator(new UViTNetwork(config, seed: 1), new UViTNetwork(config, seed: 2), NoiseScheduleKind.ContinuousVP, nullClass: 2),
                                                            new SamplerSettings { Steps = 1 }, PixelRange.Bytes);
        mlContext.Model.Save(generator, generator.CreateRequests(mlContext, [1L]).Schema, zip);
        return zip;
    }

    private static string[] Sample(string zip, string outDir, params string[] extra) =>
        ["sample", zip, "--count", "3", "--batch-size", "2", "--out-dir", outDir, .. extra];

    private static Dictionary<string, byte[]> Pngs(string folder) =>
        Directory.GetFiles(folder, "*.png").ToDictionary(f => Path.GetFileName(f), File.ReadAllBytes);

    [TestMethod]
    public void ThreeShardsWriteTheSameImagesAndMergeToTheWholeSetsStatistics()
    {
        string root = NewFolder(), zip = SaveClassModel(root), weights = FidFixtures.PathOf("inception.safetensors");
        string whole = Path.Combine(root, "whole"), sharded = Path.Combine(root, "sharded");
        var (exit, log) = CliProcess.Run(Sample(zip, whole, "--fid-stats", Path.Combine(root, "whole-sums.npz"), "--fid-weights", weights));
        Assert.AreEqual(0, exit, log);
        var expected = Pngs(whole);
        CollectionAssert.AreEquivalent(new[] { "class00-seed001000.png", "class00-seed001001.png", "class00-seed001002.png",
                                               "class01-seed001003.png", "class01-seed001004.png", "class01-seed001005.png" }, expected.Keys.ToArray(), log);
        Assert.AreEqual(6, File.ReadAllLines(Path.Combine(whole, "manifest-0-of-1.jsonl")).Length);

        var shardFiles = new List<string>();
        for (int k = 0; k < 3; k++)
        {
            shardFiles.Add(Path.Combine(root, $"shard{k}.npz"));
            (exit, log) = CliProcess.Run(Sample(zip, sharded, "--shard", $"{k}/3", "--fid-stats", shardFiles[k], "--fid-weights", weights));
            Assert.AreEqual(0, exit, log);
            var manifest = File.ReadAllLines(Path.Combine(sharded, $"manifest-{k}-of-3.jsonl"));
            Assert.HasCount(2, manifest, log);                                          // rows k and k + 3 of six
        }
        var actual = Pngs(sharded);
        CollectionAssert.AreEquivalent(expected.Keys.ToArray(), actual.Keys.ToArray());
        foreach (var (name, bytes) in expected) CollectionAssert.AreEqual(bytes, actual[name], $"{name} differs between 3 shards and 1 process");
        Assert.AreNotEqual(Convert.ToBase64String(expected["class00-seed001000.png"]), Convert.ToBase64String(expected["class00-seed001001.png"]),
                           "different seeds must give different images, or the comparison proves nothing");

        string merged = Path.Combine(root, "merged.npz"), direct = Path.Combine(root, "direct.npz"), one = Path.Combine(root, "one.npz");
        (exit, log) = CliProcess.Run(["fid", "merge", .. shardFiles, "-o", merged]);
        Assert.AreEqual(0, exit, log);
        (exit, log) = CliProcess.Run("fid", "merge", Path.Combine(root, "whole-sums.npz"), "-o", one);
        Assert.AreEqual(0, exit, log);
        (exit, log) = CliProcess.Run("fid", "stats", whole, "--weights", weights, "-o", direct);
        Assert.AreEqual(0, exit, log);
        var all = FidStatisticsFile.Read(direct);
        FeatureSumsTests.AssertClose(all, FidStatisticsFile.Read(merged), 1e-9);
        FeatureSumsTests.AssertClose(all, FidStatisticsFile.Read(one), 1e-9);
        (exit, log) = CliProcess.Run("fid", "compare", merged, direct, "--weights", weights);
        Assert.AreEqual(0, exit, log);

        (exit, log) = CliProcess.Run("fid", "merge", shardFiles[0], shardFiles[1], "-o", Path.Combine(root, "partial.npz"));
        Assert.AreEqual(0, exit, log);
        StringAssert.Contains(log, "2/3", "a missing shard is reported");
        (exit, log) = CliProcess.Run("fid", "merge", shardFiles[0], shardFiles[0], "-o", Path.Combine(root, "twice.npz"));
        Assert.AreEqual(1, exit, log);
        StringAssert.Contains(log, "count twice");
    }

    [TestMethod]
    public void JobEngineVariablesPickTheShard()
    {
        string root = NewFolder(), zip = SaveClassModel(root), whole = Path.Combine(root, "whole"), engines = Path.Combine(root, "engines");
        var (exit, log) = CliProcess.Run(Sample(zip, whole));
        Assert.AreEqual(0, exit, log);
        var expected = Pngs(whole);

        // Slurm --array=4-5: task id 5 is shard 1 of 2 (rows 1, 3, 5).
        (exit, log) = CliProcess.Run(new Dictionary<string, string> { ["SLURM_ARRAY_TASK_ID"] = "5", ["SLURM_ARRAY_TASK_COUNT"] = "2", ["SLURM_ARRAY_TASK_MIN"] = "4" }, Sample(zip, engines));
        Assert.AreEqual(0, exit, log);
        StringAssert.Contains(log, "shard 1/2", log);
        CollectionAssert.AreEquivalent(new[] { "class00-seed001001.png", "class01-seed001003.png", "class01-seed001005.png" }, Pngs(engines).Keys.ToArray(), log);
        // Kubernetes: index 0 with --shards 2 finishes the set.
        (exit, log) = CliProcess.Run(new Dictionary<string, string> { ["JOB_COMPLETION_INDEX"] = "0" }, Sample(zip, engines, "--shards", "2"));
        Assert.AreEqual(0, exit, log);
        var actual = Pngs(engines);
        CollectionAssert.AreEquivalent(expected.Keys.ToArray(), actual.Keys.ToArray(), log);
        foreach (var (name, bytes) in expected) CollectionAssert.AreEqual(bytes, actual[name], name);

        (exit, log) = CliProcess.Run(new Dictionary<string, string> { ["JOB_COMPLETION_INDEX"] = "0" }, Sample(zip, engines));
        Assert.AreEqual(1, exit, log);
        StringAssert.Contains(log, "--shards N", log);
    }

    [TestMethod]
    public void RestartedShardKeepsWrittenImagesAndFinishesTheRest()
    {
        string root = NewFolder(), zip = SaveClassModel(root), whole = Path.Combine(root, "whole"), resumed = Path.Combine(root, "resumed");
        var (exit, log) = CliProcess.Run(Sample(zip, whole));
        Assert.AreEqual(0, exit, log);
        var expected = Pngs(whole);

        // What a shard killed after two images leaves: those two complete PNGs and the temp file of the third, half written.
        Directory.CreateDirectory(resumed);
        File.Copy(Path.Combine(whole, "class00-seed001000.png"), Path.Combine(resumed, "class00-seed001000.png"));
        byte[] marker = expected["class01-seed001005.png"];                             // a valid PNG that is not this seed's image
        File.WriteAllBytes(Path.Combine(resumed, "class00-seed001001.png"), marker);
        string stale = Path.Combine(resumed, ".class00-seed001002.png.0123456789abcdef0123456789abcdef.tmp");
        File.WriteAllBytes(stale, marker.Take(marker.Length / 2).ToArray());

        (exit, log) = CliProcess.Run(Sample(zip, resumed));
        Assert.AreEqual(0, exit, log);
        StringAssert.Contains(log, "2 already present", log);
        CollectionAssert.AreEqual(marker, File.ReadAllBytes(Path.Combine(resumed, "class00-seed001001.png")), "an existing image was generated again");
        Assert.IsFalse(File.Exists(stale), "the killed write's temp file is left behind");
        var actual = Pngs(resumed);
        CollectionAssert.AreEquivalent(expected.Keys.ToArray(), actual.Keys.ToArray());
        foreach (string name in expected.Keys.Where(n => n != "class00-seed001001.png"))
            CollectionAssert.AreEqual(expected[name], actual[name], $"{name} differs after the restart");
        Assert.AreEqual(6, File.ReadAllLines(Path.Combine(resumed, "manifest-0-of-1.jsonl")).Length);

        (exit, log) = CliProcess.Run("sample", zip, "--shard", "1/2");
        Assert.AreEqual(1, exit, log);
        StringAssert.Contains(log, "--out-dir");
    }
}
