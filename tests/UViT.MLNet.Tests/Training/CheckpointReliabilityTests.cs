// What a crash, a NaN or a damaged file may not do to a training run (#18): a non-finite step never reaches the weights, the
// EMA or a checkpoint; a checkpoint carries checksums; a failed load changes nothing; the replaced checkpoint is kept;
// saving leaks no tensor handles and leaves no temp files behind.
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using TorchSharp;
using UViT.MLNet.Core.Checkpoints;
using UViT.MLNet.Core.Networks;
using UViT.MLNet.Core.Training;
using static TorchSharp.torch;

namespace UViT.MLNet.Tests.Training;

[TestClass]
public sealed class CheckpointReliabilityTests
{
    public TestContext TestContext { get; set; } = null!;

    private static readonly UViTConfig Tiny = new() { ImageSize = 8, PatchSize = 2, InChannels = 1, EmbedDim = 32, Depth = 2, NumHeads = 2, NumClasses = 3 };

    private static UViTTrainingSession NewSession(long seed = 3, int maxSkips = 5, double? clip = null) =>
        new(new UViTNetwork(Tiny, seed: seed), new TrainingRecipe { LearningRate = 1e-3, WarmupSteps = 0, GradientClipNorm = clip }, seed)
        {
            MaxConsecutiveSkippedSteps = maxSkips,
        };

    private static (Tensor X, Tensor Y) Batch(long seed, bool nan = false)
    {
        using var generator = new Generator((ulong)seed);
        var x = rand([4, 1, 8, 8], generator: generator) * 2 - 1;                                   // [4, 1, 8, 8]
        if (nan) x[0, 0, 0, 0] = tensor(float.NaN);
        return (x, randint(0, 3, [4], dtype: ScalarType.Int64, generator: generator));             // [4]
    }

    private string NewPath(string name) =>
        Path.Combine(TestContext.TestRunDirectory ?? Path.GetTempPath(), Guid.NewGuid().ToString("N"), name);

    /// <summary>Every value of both networks, in key order.</summary>
    private static float[] Weights(UViTTrainingSession session) =>
        [.. session.Network.state_dict().Concat(session.EmaNetwork.state_dict()).SelectMany(kv => kv.Value.data<float>().ToArray())];

    [TestMethod]
    [DataRow(null, DisplayName = "no clipping")]
    [DataRow(1.0, DisplayName = "clipping at 1")]
    public void NonFiniteStepIsSkippedAndRepeatedOnesStopTheRun(double? clip)
    {
        using var session = NewSession(maxSkips: 3, clip: clip);
        var (x, y) = Batch(1);
        var (bad, badY) = Batch(2, nan: true);
        session.TrainStep(x, y);
        var before = Weights(session);
        string path = NewPath("latest.ckpt");
        session.SaveCheckpoint(path);

        float loss = session.TrainStep(bad, badY);
        Assert.IsFalse(float.IsFinite(loss), "the NaN batch's loss is returned as it is");
        Assert.AreEqual(1, session.Step, "a skipped step is not counted as a step");
        Assert.AreEqual(1, session.SkippedSteps);
        CollectionAssert.AreEqual(before, Weights(session), "a non-finite step changed the weights or the EMA");
        session.SaveCheckpoint(path);                                                                 // still finite: saving works

        session.TrainStep(x, y);
        Assert.AreEqual(0, session.ConsecutiveSkippedSteps, "a good step resets the run of skipped ones");
        session.TrainStep(bad, badY);
        session.TrainStep(bad, badY);
        Assert.ThrowsExactly<TrainingDivergedException>(() => session.TrainStep(bad, badY));
        Assert.AreEqual((2L, 4L, 3), (session.Step, session.SkippedSteps, session.ConsecutiveSkippedSteps), "three skipped in a row end the run");
    }

    [TestMethod]
    public void NonFiniteWeightsAreNeverSaved()
    {
        using var session = NewSession();
        string path = NewPath("latest.ckpt");
        session.SaveCheckpoint(path);
        byte[] good = File.ReadAllBytes(path);
        using (no_grad()) session.Network.parameters().First().view(-1)[0] = tensor(float.NaN);
        Assert.ThrowsExactly<TrainingDivergedException>(() => session.SaveCheckpoint(path));
        CollectionAssert.AreEqual(good, File.ReadAllBytes(path), "the good checkpoint was replaced");
    }

    [TestMethod]
    public void NonFiniteSamplesAreReportedNotReturnedAsBlackImages()
    {
        using var session = NewSession();
        using (no_grad()) session.EmaNetwork.parameters().First().view(-1)[0] = tensor(float.NaN);
        using var generator = session.FinishIntoGenerator();
        var error = Assert.ThrowsExactly<ArithmeticException>(() => generator.Generate([1, 2], [0, 1], new Core.Generation.SamplerSettings { Steps = 2 }).Dispose());
        StringAssert.Contains(error.Message, "NaN");
    }

    [TestMethod]
    public void FlippedWeightByteFailsTheChecksum()
    {
        string path = NewPath("latest.ckpt");
        using (var session = NewSession()) session.SaveCheckpoint(path);
        byte[] bytes = File.ReadAllBytes(path);
        // The network entry is stored uncompressed: its safetensors header length follows the entry's name in the local header.
        int name = bytes.AsSpan().IndexOf(Encoding.ASCII.GetBytes("network.safetensors")) + "network.safetensors".Length;
        long headerLength = BitConverter.ToInt64(bytes, name);
        bytes[name + 8 + (int)headerLength + 64] ^= 0x01;                                                    // a weight's low mantissa bit
        File.WriteAllBytes(path, bytes);

        using var other = NewSession(seed: 5);
        var error = Assert.ThrowsExactly<InvalidDataException>(() => other.LoadCheckpoint(path));
        StringAssert.Contains(error.Message, "checksum");
        StringAssert.Contains(error.Message, path);
    }

    [TestMethod]
    public void FailedLoadLeavesTheSessionUnchanged()
    {
        string path = NewPath("latest.ckpt");
        using (var session = NewSession()) session.SaveCheckpoint(path);
        // A well-formed file (valid checksums) whose RNG state is cut short: the last part the old loader applied.
        Rewrite(path, "generator.bin", bytes => bytes[..3]);

        using var other = NewSession(seed: 5);
        var before = Weights(other);
        Assert.ThrowsExactly<InvalidDataException>(() => other.LoadCheckpoint(path));
        CollectionAssert.AreEqual(before, Weights(other), "the failed load overwrote the network");
        Assert.AreEqual(0, other.Step);
    }

    [TestMethod]
    public void ReplacedCheckpointIsKeptAsPrevious()
    {
        string latest = NewPath("latest.ckpt"), previous = Path.Combine(Path.GetDirectoryName(latest)!, "previous.ckpt");
        using var session = NewSession();
        var (x, y) = Batch(1);
        session.TrainStep(x, y);
        session.SaveCheckpoint(latest, previousPath: previous);
        Assert.IsFalse(File.Exists(previous), "nothing to keep on the first save");
        session.TrainStep(x, y);
        session.SaveCheckpoint(latest, previousPath: previous);
        session.TrainStep(x, y);
        session.SaveCheckpoint(latest, previousPath: previous);
        using var other = NewSession();
        other.LoadCheckpoint(previous);
        Assert.AreEqual(2, other.Step);
        other.LoadCheckpoint(latest);
        Assert.AreEqual(3, other.Step);
    }

    [TestMethod]
    public void StaleTempFilesOfAKilledWriteAreRemoved()
    {
        string path = NewPath("latest.ckpt");
        string folder = Path.GetDirectoryName(path)!;
        Directory.CreateDirectory(folder);
        string stale = Path.Combine(folder, ".latest.ckpt.0123456789abcdef.tmp");
        File.WriteAllBytes(stale, [1, 2, 3]);
        using (var session = NewSession()) session.SaveCheckpoint(path);
        Assert.IsFalse(File.Exists(stale), "the killed write's temp file is still there");
        CollectionAssert.AreEqual(new[] { "latest.ckpt" }, Directory.GetFiles(folder).Select(Path.GetFileName).ToArray());
    }

    [TestMethod]
    public void SavingLeaksNoTensorHandles()
    {
        using var session = NewSession();
        string path = NewPath("latest.ckpt"), weights = NewPath("weights.safetensors");
        session.SaveCheckpoint(path);
        StateDictLoader.SaveFile(session.Network, weights);
        long before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        for (int i = 0; i < 2; i++)
        {
            session.SaveCheckpoint(path);
            StateDictLoader.SaveFile(session.Network, weights);
            session.LoadCheckpoint(path);
        }
        Assert.AreEqual(before, DisposeScopeManager.Statistics.ThreadTotalLiveCount, "live tensors grew across saves and loads");
    }

    /// <summary>Replaces one entry of a checkpoint and recomputes its checksum, as a well-formed but wrong file would be.</summary>
    private static void Rewrite(string path, string entryName, Func<byte[], byte[]> change)
    {
        var entries = new Dictionary<string, byte[]>();
        using (var zip = ZipFile.OpenRead(path))
        {
            foreach (var entry in zip.Entries)
            {
                using var stream = entry.Open();
                using var copy = new MemoryStream();
                stream.CopyTo(copy);
                entries[entry.Name] = copy.ToArray();
            }
        }
        entries[entryName] = change(entries[entryName]);
        var sums = JsonSerializer.Deserialize<Dictionary<string, string>>(entries["checksums.json"])!;
        sums[entryName] = Convert.ToHexString(SHA256.HashData(entries[entryName]));
        entries["checksums.json"] = JsonSerializer.SerializeToUtf8Bytes(sums);
        File.Delete(path);
        using var output = ZipFile.Open(path, ZipArchiveMode.Create);
        foreach (var (name, bytes) in entries)
        {
            using var stream = output.CreateEntry(name).Open();
            stream.Write(bytes);
        }
    }
}
