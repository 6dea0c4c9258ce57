// The shipped digit judge (src/Samples/data/mnist/digit-judge.safetensors): it reads the held-out real digits it never
// trained on at >= 98%, its real-vs-real feature distance (the floor) is finite and far below that of noise or of digits
// with shuffled pixels, its file carries its provenance, and its loader refuses a file with a wrong key or shape by name.
using UViT.MLNet.Core.Checkpoints;
using UViT.MLNet.Core.Evaluation;
using UViT.MLNet.Tests.Support;
using UViT.MLNet.Samples;
using static TorchSharp.torch;

namespace UViT.MLNet.Tests.Evaluation;

[TestClass]
public sealed class DigitJudgeTests
{
    public TestContext TestContext { get; set; } = null!;

    private static string MnistFolder => Path.Combine(Fixtures.RepoRoot, "src", "Samples", "data", "mnist");
    private static string JudgePath => Path.Combine(MnistFolder, "digit-judge.safetensors");
    private static readonly Lazy<IdxImageDataset> Digits = new(() =>
        IdxImageDataset.Read(Path.Combine(MnistFolder, "images-idx3-ubyte.gz"), Path.Combine(MnistFolder, "labels-idx1-ubyte.gz")));

    private static List<float[]> Images(IEnumerable<int> indices) => indices.Select(i => DigitJudgeTrainer.Digit(Digits.Value.Pixels, i)).ToList();

    [TestMethod]
    public void ShippedJudgeReadsTheHeldOutRealDigitsAtLeast98Percent()
    {
        var digits = Digits.Value;
        int[] heldOut = DigitJudgeSplit.HeldOut(digits.Labels);
        Assert.AreEqual(2000, heldOut.Length);
        Assert.AreEqual(0, heldOut.Intersect(DigitJudgeSplit.Training(digits.Labels)).Count(), "training and held-out digits overlap");
        using var judge = DigitJudge.Load(JudgePath);
        double accuracy = DigitJudgeTrainer.Accuracy(judge, digits.Pixels, digits.Labels, heldOut);
        Assert.IsTrue(accuracy >= 0.98, $"the shipped judge reads {accuracy:P2} of the held-out real digits correctly (< 98%)");

        var metadata = StateDictFile.ReadSafetensorsMetadata(JudgePath);
        Assert.AreEqual(DigitJudgeSplit.Description, metadata["split"]);
        StringAssert.StartsWith(metadata["command"], "uvit judge train");
        double recorded = double.Parse(metadata["held_out_accuracy"], System.Globalization.CultureInfo.InvariantCulture);
        Assert.AreEqual(recorded, accuracy, 1.5 / heldOut.Length, "the file's recorded held-out accuracy is not what it measures (at most one digit may flip between machines)");
    }

    [TestMethod]
    public void RealVersusRealFloorIsFiniteAndFarBelowNoiseAndShuffledPixels()
    {
        var digits = Digits.Value;
        const int perClass = 20;
        var (reference, floorSet) = DigitJudgeSplit.RealSets(digits.Labels, perClass);
        Assert.AreEqual(0, reference.Intersect(floorSet).Count(), "the reference and floor sets overlap");
        int n = reference.Length;
        var requested = reference.Select(i => (int)digits.Labels[i]).ToList();
        using var judge = DigitJudge.Load(JudgePath);

        var random = new Random(7);
        var noise = Enumerable.Range(0, n).Select(_ => Enumerable.Range(0, 784).Select(_ => (float)random.Next(256)).ToArray()).ToList();
        var permutation = Enumerable.Range(0, 784).OrderBy(_ => random.Next()).ToArray();
        var shuffled = Images(floorSet).Select(image => permutation.Select(p => image[p]).ToArray()).ToList();
        var reports = new Dictionary<string, DigitJudgeReport>
        {
            ["real (floor set)"] = DigitJudgeReport.Create(judge, Images(floorSet), requested, Images(reference), Images(floorSet)),
            ["noise"] = DigitJudgeReport.Create(judge, noise, requested, Images(reference), Images(floorSet)),
            ["shuffled pixels"] = DigitJudgeReport.Create(judge, shuffled, requested, Images(reference), Images(floorSet)),
        };
        foreach (var (name, r) in reports)
            TestContext.WriteLine($"{name}: n {r.Count}, accuracy {r.Accuracy:P1}, p(requested) {r.MeanRequestedProbability:F3}, distance {r.FeatureDistance:F3}, floor {r.Floor:F3}");

        var real = reports["real (floor set)"];
        Assert.IsTrue(double.IsFinite(real.Floor) && real.Floor > 0, $"floor {real.Floor}");
        Assert.AreEqual(real.Floor, real.FeatureDistance, 1e-9 * real.Floor, "the floor set judged as generated digits must score the floor");
        Assert.IsTrue(real.Accuracy >= 0.95, $"real digits read {real.Accuracy:P1}");
        foreach (string fake in new[] { "noise", "shuffled pixels" })
        {
            Assert.AreEqual(real.Floor, reports[fake].Floor, 1e-9 * real.Floor, "the floor depends only on the real sets");
            Assert.IsTrue(reports[fake].FeatureDistance > 10 * real.Floor, $"{fake}: distance {reports[fake].FeatureDistance:F3} is not far above the floor {real.Floor:F3}");
            Assert.IsTrue(reports[fake].Accuracy < 0.5, $"{fake} read as the requested digits {reports[fake].Accuracy:P1} of the time");
        }
    }

    [TestMethod]
    public void BackgroundGrainIsTheRmsOfPixelsAwayFromStrokesAsAPngShowsThem()
    {
        // A 10x10 image: a 2x2 stroke at (4..5, 4..5), so rows and columns 1..8 are its edge; the 36 pixels left are background.
        const int side = 10;
        var image = new float[side * side];
        for (int y = 4; y <= 5; y++) for (int x = 4; x <= 5; x++) image[y * side + x] = 255;
        image[3 * side + 3] = 100;                         // edge: ignored
        image[0] = 30; image[9] = -50; image[99] = 120;   // background: 30, -50 shown as 0, 120; the other 33 are 0
        double expected = Math.Sqrt((30.0 * 30 + 120.0 * 120) / 36);
        Assert.AreEqual(expected, BackgroundGrain.Rms([image], side), 1e-9);

        Assert.AreEqual(Math.Sqrt((30.0 * 30 + 120.0 * 120) / (36 + 100)), BackgroundGrain.Rms([image, new float[side * side]], side), 1e-9,
                        "pooled over the images' background pixels (a blank image is all background)");
        Assert.AreEqual(0, BackgroundGrain.Rms([Enumerable.Repeat(255f, side * side).ToArray()], side), "no background at all");
        Assert.ThrowsExactly<ArgumentException>(() => BackgroundGrain.Rms([new float[5]], side));

        // Real digits have black backgrounds.
        var real = Images(DigitJudgeSplit.HeldOut(Digits.Value.Labels).Take(200));
        Assert.IsLessThan(1.0, BackgroundGrain.Rms(real), "real MNIST backgrounds are black");
    }

    [TestMethod]
    public void JudgeLoaderRefusesWrongKeyOrShapeNamingIt()
    {
        string folder = Path.Combine(TestContext.TestRunDirectory ?? Path.GetTempPath(), Guid.NewGuid().ToString("N"));
        var good = StateDictFile.Read(JudgePath);
        try
        {
            string renamed = Path.Combine(folder, "renamed.safetensors"), reshaped = Path.Combine(folder, "reshaped.safetensors");
            StateDictFile.WriteSafetensors(renamed, good.ToDictionary(kv => kv.Key == "fc2.bias" ? "classifier.bias" : kv.Key, kv => kv.Value));
            using (var narrow = zeros(9, DigitJudge.FeatureDim))
                StateDictFile.WriteSafetensors(reshaped, good.ToDictionary(kv => kv.Key, kv => kv.Key == "fc2.weight" ? narrow : kv.Value));

            var missing = Assert.ThrowsExactly<CheckpointMismatchException>(() => DigitJudge.Load(renamed));
            StringAssert.Contains(missing.Message, "fc2.bias");
            StringAssert.Contains(missing.Message, "classifier.bias");
            var shape = Assert.ThrowsExactly<CheckpointMismatchException>(() => DigitJudge.Load(reshaped));
            StringAssert.Contains(shape.Message, "fc2.weight");
            StringAssert.Contains(shape.Message, "[9, 128]");
        }
        finally
        {
            foreach (var tensor in good.Values) tensor.Dispose();
        }
    }

    [TestMethod]
    public void SafetensorsMetadataRoundTripsBesideUnchangedTensors()
    {
        string path = Path.Combine(TestContext.TestRunDirectory ?? Path.GetTempPath(), Guid.NewGuid().ToString("N"), "with-metadata.safetensors");
        using var a = arange(6, ScalarType.Float32).reshape(2, 3);
        using var b = tensor(new long[] { 7, -8 });
        var metadata = new Dictionary<string, string> { ["split"] = "first 8 / last 2", ["quote \"and\" unicode"] = "é\n" };
        StateDictFile.WriteSafetensors(path, new Dictionary<string, Tensor> { ["a"] = a, ["b"] = b }, metadata);

        CollectionAssert.AreEquivalent(metadata, StateDictFile.ReadSafetensorsMetadata(path));
        Assert.AreEqual(0UL, BitConverter.ToUInt64(File.ReadAllBytes(path), 0) % 8, "the header is not padded to a multiple of 8 bytes");
        var read = StateDictFile.Read(path);
        try
        {
            CollectionAssert.AreEqual(new long[] { 2, 3 }, read["a"].shape);
            CollectionAssert.AreEqual(a.data<float>().ToArray(), read["a"].data<float>().ToArray());
            CollectionAssert.AreEqual(b.data<long>().ToArray(), read["b"].data<long>().ToArray());
        }
        finally
        {
            foreach (var tensor in read.Values) tensor.Dispose();
        }
    }
}
