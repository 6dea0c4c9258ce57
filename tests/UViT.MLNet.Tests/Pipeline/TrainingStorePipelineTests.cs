// Training from the disk store (UViTTrainerOptions.TrainingDataStore): the same batches as in memory, so the same weights bit
// for bit, for images with labels and for text contexts of several captions per row; exact resume; Auto spilling to disk
// past a tiny memory budget; and the store files gone when Fit returns.
using Microsoft.ML;
using Microsoft.ML.Data;
using UViT.MLNet.Core.Networks;
using UViT.MLNet.Estimators;
using UViT.MLNet.Transforms.Generation;
using static TorchSharp.torch;

namespace UViT.MLNet.Tests.Pipeline;

[TestClass]
public sealed class TrainingStorePipelineTests
{
    public TestContext TestContext { get; set; } = null!;

    private string NewFolder(string name) => Path.Combine(TestContext.TestRunDirectory ?? Path.GetTempPath(), Guid.NewGuid().ToString("N") + "_" + name);

    /// <summary>Fits with <paramref name="options"/>; returns the model, the loss of every step and the log lines.</summary>
    private static (UViTGenerationTransformer Model, List<float> Losses, List<string> Log) Fit(IDataView data, UViTTrainerOptions options)
    {
        var mlContext = new MLContext(seed: 1);
        var log = new List<string>();
        mlContext.Log += (_, e) => { lock (log) log.Add(e.Message); };
        var losses = new List<float>();
        options.ReportInterval = 1;
        options.Progress = new SynchronousProgress<TrainingProgress>(p => losses.Add(p.Loss));
        var model = mlContext.Diffusion().Trainers.UViT(options).Fit(data);
        lock (log) return (model, losses, [.. log]);
    }

    private static void AssertSameWeights(UViTGenerationTransformer expected, UViTGenerationTransformer actual)
    {
        using var scope = NewDisposeScope();                                                    // the CPU copies
        foreach (var (a, b) in new[] { (expected.Generator.Network, actual.Generator.Network), (expected.Generator.EmaNetwork, actual.Generator.EmaNetwork) })
        {
            var left = a.state_dict();
            var right = b.state_dict();
            Assert.HasCount(left.Count, right);
            foreach (var (name, tensor) in left)
            {
                CollectionAssert.AreEqual(tensor.shape, right[name].shape, $"weight {name} has another shape");
                CollectionAssert.AreEqual(tensor.cpu().data<float>().ToArray(), right[name].cpu().data<float>().ToArray(), $"weight {name} differs");
            }
        }
    }

    private static UViTTrainerOptions Options(TrainingDataStore store, string? folder = null, int steps = 4)
    {
        var options = PipelineFixture.TinyOptions(steps);
        options.TrainingDataStore = store;
        options.TrainingStoreDirectory = folder;
        return options;
    }

    private static bool OnDisk(List<string> log) => log.Any(m => m.Contains("data in a training store on disk"));

    [TestMethod]
    public void DiskStoreTrainsExactlyAsInMemory()
    {
        var data = PipelineFixture.Mnist(24).ToDataView(new MLContext());
        string folder = NewFolder("store");
        var (memory, memoryLosses, memoryLog) = Fit(data, Options(TrainingDataStore.Memory));
        var (disk, diskLosses, diskLog) = Fit(data, Options(TrainingDataStore.Disk, folder));
        using (memory)
        using (disk)
        {
            Assert.IsFalse(OnDisk(memoryLog));
            Assert.IsTrue(OnDisk(diskLog), string.Join("\n", diskLog.TakeLast(10)));
            Assert.HasCount(4, diskLosses);
            CollectionAssert.AreEqual(memoryLosses, diskLosses);
            AssertSameWeights(memory, disk);
            CollectionAssert.AreEqual(memory.ClassNames.ToList(), disk.ClassNames.ToList());
        }
        Assert.IsFalse(Directory.EnumerateFiles(folder).Any(), "the store files were not deleted: " + string.Join(", ", Directory.EnumerateFiles(folder)));
    }

    [TestMethod]
    public void AutoMovesDataPastTheBudgetToDiskWithTheSameResult()
    {
        var data = PipelineFixture.Mnist(16).ToDataView(new MLContext());
        var small = Options(TrainingDataStore.Auto);
        var (memory, memoryLosses, memoryLog) = Fit(data, small);
        var tiny = Options(TrainingDataStore.Auto, NewFolder("auto"));
        tiny.InMemoryDataLimitBytes = 5 * 28 * 28 * sizeof(float);                               // five of the 16 images
        var (spilled, spilledLosses, spilledLog) = Fit(data, tiny);
        using (memory)
        using (spilled)
        {
            Assert.IsFalse(OnDisk(memoryLog), "16 digits under the default 2 GiB budget left memory");
            Assert.IsTrue(OnDisk(spilledLog), "16 digits over a budget of 5 stayed in memory");
            CollectionAssert.AreEqual(memoryLosses, spilledLosses);
            AssertSameWeights(memory, spilled);
        }
    }

    [TestMethod]
    public void ResumedFitFromTheDiskStoreEqualsUninterruptedFit()
    {
        var data = PipelineFixture.Mnist(48).ToDataView(new MLContext());
        var (straight, straightLosses, _) = Fit(data, Options(TrainingDataStore.Memory, steps: 8));
        string folder = NewFolder("resume");
        var first = Options(TrainingDataStore.Disk, steps: 5);
        first.CheckpointDirectory = folder;                                                     // the store goes next to the checkpoints
        first.CheckpointInterval = 5;
        Fit(data, first).Model.Dispose();
        var second = Options(TrainingDataStore.Disk, steps: 8);
        second.CheckpointDirectory = folder;
        var (resumed, resumedLosses, log) = Fit(data, second);
        using (straight)
        using (resumed)
        {
            Assert.IsTrue(log.Any(m => m.Contains("Resumed from")), string.Join("\n", log.TakeLast(10)));
            CollectionAssert.AreEqual(straightLosses.Skip(5).ToList(), resumedLosses, "resumed losses differ from the uninterrupted run");
            AssertSameWeights(straight, resumed);
        }
        Assert.IsFalse(Directory.EnumerateFiles(folder, "*.store*").Any(), "the store files were not deleted");
    }

    [TestMethod]
    public void ResumeWithOtherDataOfTheSameSizeIsRefused()
    {
        string folder = NewFolder("other");
        var first = Options(TrainingDataStore.Disk, steps: 2);
        first.CheckpointDirectory = folder;
        Fit(PipelineFixture.Mnist(16).ToDataView(new MLContext()), first).Model.Dispose();
        var other = new MLContext().Data.SkipRows(PipelineFixture.Mnist(32).ToDataView(new MLContext()), 16);   // 16 other digits
        var second = Options(TrainingDataStore.Memory, steps: 4);
        second.CheckpointDirectory = folder;
        var e = Assert.ThrowsExactly<ArgumentException>(() => Fit(other, second).Model.Dispose());
        StringAssert.Contains(e.Message, "data ");
        Assert.DoesNotContain("rows ", e.Message);
    }

    /// <summary>A row of random 1x8x8 bytes and 1 to 3 random [3, 4] contexts.</summary>
    private sealed class ContextRow
    {
        public float[] Image { get; set; } = [];
        public float[] Context { get; set; } = [];
    }

    [TestMethod]
    public void DiskStoreTrainsTextContextsExactlyAsInMemory()
    {
        const int tokens = 3, width = 4;
        var random = new Random(5);
        var rows = Enumerable.Range(0, 12).Select(i => new ContextRow
        {
            Image = Enumerable.Range(0, 64).Select(_ => (float)random.Next(256)).ToArray(),
            Context = Enumerable.Range(0, (1 + i % 3) * tokens * width).Select(_ => (float)random.NextDouble()).ToArray(),
        }).ToList();
        var schema = SchemaDefinition.Create(typeof(ContextRow));
        schema[nameof(ContextRow.Image)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, 1, 8, 8);
        var data = new MLContext().Data.LoadFromEnumerable(rows, schema);
        UViTTrainerOptions TextOptions(TrainingDataStore store)
        {
            var options = Options(store, NewFolder("text"), steps: 3);
            options.BatchSize = 4;
            options.EmptyContext = new float[tokens, width];
            options.Network = new UViTConfig { ImageSize = 8, PatchSize = 4, InChannels = 1, EmbedDim = 16, Depth = 2, NumHeads = 2, ClipDim = width, NumClipTokens = tokens };
            return options;
        }
        var (memory, memoryLosses, _) = Fit(data, TextOptions(TrainingDataStore.Memory));
        var (disk, diskLosses, diskLog) = Fit(data, TextOptions(TrainingDataStore.Disk));
        using (memory)
        using (disk)
        {
            Assert.IsTrue(OnDisk(diskLog));
            Assert.IsTrue(diskLog.Any(m => m.Contains("24 text contexts [3, 4]")), string.Join("\n", diskLog.TakeLast(10)));
            CollectionAssert.AreEqual(memoryLosses, diskLosses);
            AssertSameWeights(memory, disk);
        }
    }
}
