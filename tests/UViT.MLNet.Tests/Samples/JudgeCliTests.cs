// `uvit judge` in a fresh process on a tiny random-weight 10-class 28x28 grey model: the text and JSON reports come out with
// the requested sizes, seeds and guidance, the JSON's numbers are finite and the random model lies above the real-vs-real
// floor; models the judge cannot read (wrong shape, or classes that are not the digits 0..9 in order) and counts beyond the
// held-out digits are refused with exit code 1 and a message naming them.
using System.Text.Json;
using Microsoft.ML;
using UViT.MLNet.Core.Generation;
using UViT.MLNet.Core.Networks;
using UViT.MLNet.Core.Training;
using UViT.MLNet.Tests.Support;
using UViT.MLNet.Transforms.Generation;
using UViT.MLNet.Transforms.Persistence;

namespace UViT.MLNet.Tests.Samples;

[TestClass]
public sealed class JudgeCliTests
{
    public TestContext TestContext { get; set; } = null!;

    /// <summary>A random-weight class model saved as a library user would (the judge only needs images of the right shape).</summary>
    private string SaveModel(int size, int channels, int classes, IReadOnlyList<string>? classNames = null)
    {
        string folder = Path.Combine(TestContext.TestRunDirectory ?? Path.GetTempPath(), Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        string zip = Path.Combine(folder, "model.zip");
        var mlContext = new MLContext(seed: 1).RegisterUViT();
        var config = new UViTConfig { ImageSize = size, PatchSize = size / 4, InChannels = channels, EmbedDim = 16, Depth = 1, NumHeads = 2, NumClasses = classes + 1 };
        using var generator = new UViTGenerationTransformer(new UViTGenerator(new UViTNetwork(config, seed: 1), new UViTNetwork(config, seed: 2), NoiseScheduleKind.ContinuousVP, nullClass: classes),
                                                            new SamplerSettings { Steps = 1, GuidanceScale = 1 }, PixelRange.Bytes, classNames);
        mlContext.Model.Save(generator, generator.CreateRequests(mlContext, [1L]).Schema, zip);
        return zip;
    }

    [TestMethod]
    public void JudgeReportsATinyModelInTextAndJson()
    {
        string zip = SaveModel(28, 1, 10);
        var (exit, log) = CliProcess.Run("judge", zip, "--count", "2");
        Assert.AreEqual(0, exit, log);
        foreach (string line in new[] { "generated:        20 digits (2 per class, seeds 0..19)", "accuracy:", "per class:        0:", "feature distance:", "real-vs-real:", "guidance s = 1," })
            StringAssert.Contains(log, line);

        (exit, log) = CliProcess.Run("judge", zip, "--count", "3", "--guidance", "0", "--seed", "5", "--json");
        Assert.AreEqual(0, exit, log);
        var json = JsonDocument.Parse(log.Split('\n').Single(l => l.StartsWith('{'))).RootElement;
        Assert.AreEqual(30, json.GetProperty("n").GetInt32());
        Assert.AreEqual(0.0, json.GetProperty("guidance_s").GetDouble(), "--guidance 0 must reach the sampler");
        Assert.AreEqual(5, json.GetProperty("seed").GetInt64());
        Assert.AreEqual(10, json.GetProperty("per_class_hits").GetArrayLength());
        foreach (string key in new[] { "accuracy", "mean_p_requested", "mean_p_predicted", "feature_distance", "real_vs_real_floor" })
            Assert.IsTrue(double.IsFinite(json.GetProperty(key).GetDouble()), $"{key} is not finite: {log}");
        Assert.IsTrue(json.GetProperty("feature_distance").GetDouble() > json.GetProperty("real_vs_real_floor").GetDouble(),
                      "a random-weight model's digits should lie further from real digits than other real digits do: " + log);
    }

    [TestMethod]
    public void JudgeRefusesModelsItCannotReadAndTooManyDigits()
    {
        var (exit, log) = CliProcess.Run("judge", SaveModel(8, 3, 2), "--count", "1");
        Assert.AreEqual(1, exit, log);
        StringAssert.Contains(log, "3-channel 8x8 images of 2 classes");

        (exit, log) = CliProcess.Run("judge", SaveModel(28, 1, 10, ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"]), "--count", "1");
        Assert.AreEqual(1, exit, log);
        StringAssert.Contains(log, "class c to be digit c; this model's classes are named a, b, c");

        (exit, log) = CliProcess.Run("judge", SaveModel(28, 1, 10), "--count", "101");
        Assert.AreEqual(1, exit, log);
        StringAssert.Contains(log, "1 to 100 digits per class; got 101");
    }
}
