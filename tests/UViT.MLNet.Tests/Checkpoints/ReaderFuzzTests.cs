// Seeded fuzzing of every file reader (#18): a valid file is built here, then mutated at random (bytes flipped or set to
// 0x00/0xFF, a 4- or 8-byte field overwritten with an extreme value, truncation, a chunk inserted or deleted) and read back.
// Each read must either succeed or end in a clean exception of a documented type: never a crash, a hang, an
// out-of-memory, or an IndexOutOfRange/NullReference that shows a missing check. Mutation i of a reader uses seed i, and a
// failure names the seed and keeps the mutated file (zip-based files carry their write time, so the seed alone reproduces
// a failure only with the same valid file). All readers together take about 30 s.
using System.Buffers.Binary;
using Microsoft.ML;
using TorchSharp.PyBridge;
using UViT.MLNet.Core.Checkpoints;
using UViT.MLNet.Core.Evaluation;
using UViT.MLNet.Core.Networks;
using UViT.MLNet.Core.Training;
using UViT.MLNet.Estimators;
using UViT.MLNet.Tests.Pipeline;
using UViT.MLNet.Samples;
using UViT.MLNet.Transforms.Persistence;
using static TorchSharp.torch;

namespace UViT.MLNet.Tests.Checkpoints;

[TestClass]
public sealed class ReaderFuzzTests
{
    public TestContext TestContext { get; set; } = null!;

    private string Folder => Path.Combine(TestContext.TestRunDirectory ?? Path.GetTempPath(), "fuzz-" + TestContext.TestName);

    private string NewPath(string name)
    {
        Directory.CreateDirectory(Folder);
        return Path.Combine(Folder, name);
    }

    /// <summary>One random mutation of <paramref name="valid"/>.</summary>
    private static byte[] Mutate(byte[] valid, Random random)
    {
        var bytes = (byte[])valid.Clone();
        int at = random.Next(bytes.Length);
        switch (random.Next(7))
        {
            case 0:                                                                        // a few random bit flips
                for (int i = random.Next(1, 4); i > 0; i--) bytes[random.Next(bytes.Length)] ^= (byte)(1 << random.Next(8));
                return bytes;
            case 1:
                bytes[at] = random.Next(2) == 0 ? (byte)0x00 : (byte)0xFF;
                return bytes;
            case 2 when at + 8 <= bytes.Length:                                          // an extreme 64-bit length or offset
                long[] extremes = [long.MaxValue, long.MinValue, -1, 1L << 61, 1L << 32, int.MaxValue];
                BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(at), extremes[random.Next(extremes.Length)]);
                return bytes;
            case 3 when at + 4 <= bytes.Length:                                          // an extreme 32-bit count, either byte order
                int[] counts = [int.MaxValue, int.MinValue, -1, 1 << 30, 0];
                int value = counts[random.Next(counts.Length)];
                if (random.Next(2) == 0) BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(at), value);
                else BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(at), value);
                return bytes;
            case 4:
                return bytes[..at];                                                        // truncated
            case 5:
                var chunk = new byte[random.Next(1, 64)];
                random.NextBytes(chunk);
                return [.. bytes[..at], .. chunk, .. bytes[at..]];                        // inserted
            default:
                return [.. bytes[..at], .. bytes[Math.Min(bytes.Length, at + random.Next(1, 64))..]];   // deleted
        }
    }

    /// <summary>
    /// Reads <paramref name="count"/> mutations of <paramref name="valid"/> with <paramref name="read"/>, each written to
    /// <paramref name="path"/> first; fails naming the seed on the first exception that is not of an <paramref name="allowed"/> type.
    /// </summary>
    private void Fuzz(byte[] valid, string path, int count, Action<string> read, params Type[] allowed)
    {
        read(WriteFile(path, valid));                                                      // the unmutated file reads
        int failed = 0;
        for (int seed = 0; seed < count; seed++)
        {
            WriteFile(path, Mutate(valid, new Random(seed)));
            try
            {
                using var scope = NewDisposeScope();
                read(path);
            }
            catch (Exception e) when (allowed.Any(t => t.IsInstanceOfType(e)))
            {
                failed++;
            }
            catch (Exception e)
            {
                Assert.Fail($"mutation seed {seed} of {Path.GetFileName(path)} ended in {e.GetType().Name}, not one of " +
                            $"{string.Join(", ", allowed.Select(t => t.Name))}; the mutated file is kept at {path}:\n{e}");
            }
        }
        TestContext.WriteLine($"{Path.GetFileName(path)}: {count} mutations, {failed} refused, {count - failed} read");
        Assert.IsGreaterThan(0, failed, $"no mutation of {Path.GetFileName(path)} was refused: the mutations never reached the reader's checks");
    }

    private static string WriteFile(string path, byte[] bytes)
    {
        File.WriteAllBytes(path, bytes);
        return path;
    }

    private static Dictionary<string, Tensor> SmallState()
    {
        using var generator = new Generator(5);
        return new()
        {
            ["a.weight"] = randn([4, 3], generator: generator),
            ["a.bias"] = zeros(4, dtype: ScalarType.Float16),
            ["steps"] = tensor(7L),
        };
    }

    private static void ReadState(string path)
    {
        foreach (var tensor in StateDictFile.Read(path).Values) tensor.Dispose();
    }

    [TestMethod]
    public void Safetensors()
    {
        string path = NewPath("state.safetensors");
        StateDictFile.WriteSafetensors(path, SmallState());
        Fuzz(File.ReadAllBytes(path), path, 8000, ReadState, typeof(InvalidDataException));
    }

    [TestMethod]
    public void TorchZip()
    {
        string path = NewPath("state.pth");
        PyTorchPickler.PickleStateDict(path, SmallState());
        Fuzz(File.ReadAllBytes(path), path, 3000, ReadState, typeof(InvalidDataException));
    }

    [TestMethod]
    public void LegacyTorchSave()
    {
        string path = NewPath("legacy.pth");
        byte[] valid = File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "Data", "LegacyTorchSave", "legacy_state_dict.pth"));
        Fuzz(valid, path, 1500, ReadState, typeof(InvalidDataException));
    }

    [TestMethod]
    public void FidStatisticsNpz()
    {
        string path = NewPath("stats.npz");
        double[] mean = [1, 2, 3], covariance = [2, 0.5, 0, 0.5, 2, 0, 0, 0, 2];
        FidStatisticsFile.Write(path, new FeatureStatistics(mean, covariance));
        Fuzz(File.ReadAllBytes(path), path, 5000, p => FidStatisticsFile.Read(p), typeof(InvalidDataException));
    }

    [TestMethod]
    public void Idx()
    {
        var images = new byte[16 + 3 * 4 * 4];
        BinaryPrimitives.WriteInt32BigEndian(images, 0x803);
        BinaryPrimitives.WriteInt32BigEndian(images.AsSpan(4), 3);
        BinaryPrimitives.WriteInt32BigEndian(images.AsSpan(8), 4);
        BinaryPrimitives.WriteInt32BigEndian(images.AsSpan(12), 4);
        byte[] labels = [0, 0, 8, 1, 0, 0, 0, 3, 0, 1, 2];
        string labelPath = WriteFile(NewPath("labels.idx1"), labels), imagePath = NewPath("images.idx3");
        Fuzz(images, imagePath, 3000, p => IdxImageDataset.Read(p, labelPath), typeof(InvalidDataException));
        WriteFile(imagePath, images);
        Fuzz(labels, labelPath, 3000, p => IdxImageDataset.Read(imagePath, p), typeof(InvalidDataException));
    }

    [TestMethod]
    public void MomentsCache()
    {
        string path = NewPath("latents.moments");
        using (var writer = new MomentsCacheWriter(path, new MomentsCacheHeader(0, 4, 2, 2, HasFlipped: true, 0.18215, ["cat", "dog"])))
        using (var generator = new Generator(3))
        {
            writer.Append(randn([3, 4, 2, 2], generator: generator), randn([3, 4, 2, 2], generator: generator), [0, 1, 1]);
            writer.Commit();
        }
        Fuzz(File.ReadAllBytes(path), path, 5000, p =>
        {
            using var cache = Core.Training.MomentsCache.Open(p);
            using var generator = new Generator(1);
            var (latents, labels) = cache.SampleBatch([.. Enumerable.Range(0, (int)Math.Min(cache.Count, 4)).Select(i => (long)i)], generator);
            latents.Dispose();
            labels?.Dispose();
        }, typeof(InvalidDataException));
    }

    [TestMethod]
    public void TrainingStore()
    {
        string images = NewPath("images.store"), contexts = NewPath("contexts.store");
        using (var writer = new TrainingStoreWriter(images, [1, 2, 2], ["cat", "dog"]))
        {
            for (int i = 0; i < 3; i++) writer.AppendRow([i, 1, 2, 3], i % 2);
            writer.Commit();
        }
        using (var writer = new TrainingStoreWriter(contexts, [2, 2], rowTable: true))
        {
            writer.AppendRow([1, 2, 3, 4, 5, 6, 7, 8]);
            writer.AppendRow([9, 8, 7, 6]);
            writer.Commit();
        }
        static void Read(string path)
        {
            using var store = Core.Training.TrainingStore.Open(path);
            for (long row = 0; row < Math.Min(store.Count, 4); row++)
            {
                var (first, count) = store.Items(row);
                store.ReadItems([.. Enumerable.Range(0, (int)Math.Min(count, 4)).Select(k => first + k)]).Dispose();
                if (store.Header.HasLabels) store.ReadLabels([row]).Dispose();
            }
        }
        Fuzz(File.ReadAllBytes(images), images, 3000, Read, typeof(InvalidDataException));
        Fuzz(File.ReadAllBytes(contexts), contexts, 3000, Read, typeof(InvalidDataException));
    }

    [TestMethod]
    public void TrainingCheckpoint()
    {
        var config = new UViTConfig { ImageSize = 4, PatchSize = 2, InChannels = 1, EmbedDim = 8, Depth = 2, NumHeads = 2, NumClasses = 3 };
        string path = NewPath("latest.ckpt");
        using (var session = new UViTTrainingSession(new UViTNetwork(config, seed: 1), new TrainingRecipe(), 1)) session.SaveCheckpoint(path);
        using var target = new UViTTrainingSession(new UViTNetwork(config, seed: 2), new TrainingRecipe(), 2);
        Fuzz(File.ReadAllBytes(path), path, 2000, p => target.LoadCheckpoint(p), typeof(InvalidDataException), typeof(CheckpointMismatchException));
    }

    [TestMethod]
    public void ModelZip()
    {
        var mlContext = new MLContext();
        var data = PipelineFixture.Mnist(16).ToDataView(mlContext);
        var options = PipelineFixture.TinyOptions(steps: 1);
        options.Network = PipelineFixture.TinyMnistNetwork with { EmbedDim = 8, Depth = 0 };
        string path = NewPath("model.zip");
        using (var model = mlContext.Diffusion().Trainers.UViT(options).Fit(data)) mlContext.Model.SaveAtomically(model, data.Schema, path);
        var fresh = new MLContext();
        Fuzz(File.ReadAllBytes(path), path, 1500, p => (fresh.LoadChecked(p, out _) as IDisposable)?.Dispose(), typeof(InvalidDataException));
    }

    [TestMethod]
    public void TextEncoderModelZip()
    {
        var mlContext = new MLContext(seed: 1);
        var data = mlContext.Data.LoadFromEnumerable(new[] { new TextRow { Text = "a red circle" } });
        string path = NewPath("text.zip");
        using (var transformer = TextToImage.TextPipelineFixture.EncodeText(mlContext, "Text").Fit(data)) mlContext.Model.SaveAtomically(transformer, data.Schema, path);
        var fresh = new MLContext();
        Fuzz(File.ReadAllBytes(path), path, 40, p => (fresh.LoadChecked(p, out _) as IDisposable)?.Dispose(), typeof(InvalidDataException));
    }

    private sealed class TextRow
    {
        public string Text { get; set; } = "";
    }
}
