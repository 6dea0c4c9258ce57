// Bad settings are refused before training starts and whenever they are set (#18 items 8, 9); a model zip whose config or
// enums were tampered with is refused before any network is built (#18 items 7, 8).
using System.IO.Compression;
using System.Text;
using Microsoft.ML;
using Microsoft.ML.Data;
using UViT.MLNet.Core.Generation;
using UViT.MLNet.Core.Training;
using UViT.MLNet.Estimators;
using UViT.MLNet.Transforms.Generation;
using UViT.MLNet.Transforms.Persistence;

namespace UViT.MLNet.Tests.Pipeline;

[TestClass]
public sealed class SettingsAndModelZipTests
{
    public TestContext TestContext { get; set; } = null!;

    /// <summary>Fits the tiny options and counts the progress reports it made (0 = refused before the first step).</summary>
    private static int ReportsBeforeFailure(UViTTrainerOptions options, out Exception error)
    {
        var mlContext = new MLContext();
        var data = PipelineFixture.Mnist(16).ToDataView(mlContext);
        var reports = new Counter();
        options.ReportInterval = 1;
        options.Progress = reports;
        error = Assert.Throws<Exception>(() => mlContext.Diffusion().Trainers.UViT(options).Fit(data).Dispose());
        return reports.Count;
    }

    /// <summary>Counts reports synchronously (Progress&lt;T&gt; would post them to the thread pool).</summary>
    private sealed class Counter : IProgress<TrainingProgress>
    {
        public int Count;
        public void Report(TrainingProgress value) => Count++;
    }

    [TestMethod]
    public void SamplingSettingsAreRefusedBeforeTraining()
    {
        var nan = PipelineFixture.TinyOptions(steps: 2);
        nan.Sampling = nan.Sampling with { GuidanceScale = double.NaN };
        Assert.AreEqual(0, ReportsBeforeFailure(nan, out var error));
        StringAssert.Contains(error.Message, "Guidance");

        var eulerOnDiscrete = PipelineFixture.TinyOptions(steps: 2);
        eulerOnDiscrete.Recipe = UViTTrainerOptions.ShortRunRecipe with { Schedule = NoiseScheduleKind.DiscreteSD };
        eulerOnDiscrete.Sampling = eulerOnDiscrete.Sampling with { Sampler = SamplerKind.EulerMaruyama };
        Assert.AreEqual(0, ReportsBeforeFailure(eulerOnDiscrete, out error));
        StringAssert.Contains(error.Message, "Euler-Maruyama");

        var noBatch = PipelineFixture.TinyOptions(steps: 2);
        noBatch.GenerationBatchSize = 0;
        Assert.AreEqual(0, ReportsBeforeFailure(noBatch, out error));
        StringAssert.Contains(error.Message, "GenerationBatchSize");
    }

    [TestMethod]
    public void SamplerSettingsRejectValuesThatOverflowOrExhaustMemory()
    {
        var settings = new SamplerSettings();
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => (settings with { GuidanceScale = 1e300 }).Validate(NoiseScheduleKind.ContinuousVP));
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => (settings with { Steps = int.MaxValue }).Validate(NoiseScheduleKind.ContinuousVP));
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => (settings with { Sampler = (SamplerKind)77 }).Validate(NoiseScheduleKind.ContinuousVP));
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => settings.Validate((NoiseScheduleKind)9));
    }

    [TestMethod]
    public void TamperedModelZipsAreRefusedBeforeBuildingNetworks()
    {
        var mlContext = new MLContext();
        var data = PipelineFixture.Mnist(16).ToDataView(mlContext);
        var options = PipelineFixture.TinyOptions(steps: 1);
        using var model = mlContext.Diffusion().Trainers.UViT(options).Fit(data);
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => model.WithBatchSize(0), "generation batch size 0 gave 0 rows");
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => model.WithSampling(model.Settings with { GuidanceScale = 1e300 }));
        string zip = Path.Combine(TestContext.TestRunDirectory ?? Path.GetTempPath(), Guid.NewGuid().ToString("N") + ".zip");
        mlContext.Model.SaveAtomically(model, data.Schema, zip);
        long live = TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        mlContext.Model.SaveAtomically(model, data.Schema, zip);
        Assert.AreEqual(live, TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount, "saving the model zip leaked tensor handles");
        var fresh = new MLContext().RegisterUViT();

        // Same byte length, so ML.NET's own framing stays valid: a wider, deeper network than the weights were saved from.
        string config = $"\"embed_dim\":{options.Network!.EmbedDim},", bigger = $"\"embed_dim\":{options.Network.EmbedDim * 2},";
        Assert.AreEqual(config.Length, bigger.Length, "pick widths of the same digit count");
        string wide = Tampered(zip, bytes => Replace(bytes, config, bigger));
        var error = Assert.Throws<Exception>(() => fresh.Model.Load(wide, out _));
        StringAssert.Contains(Innermost(error).Message, "does not match");

        // The sampler enum follows the config string: int32 schedule, int64 null class, int32 sampler.
        string badSampler = Tampered(zip, bytes =>
        {
            int config = IndexOf(bytes, "\"embed_dim\":");
            int end = config + bytes.AsSpan(config).IndexOf((byte)'}') + 1;
            BitConverter.GetBytes(77).CopyTo(bytes, end + 12);
            return bytes;
        });
        error = Assert.Throws<Exception>(() => fresh.Model.Load(badSampler, out _));
        StringAssert.Contains(Innermost(error).Message, "SamplerKind 77");
    }

    [TestMethod]
    public void ResumeRefusesAnotherRunAndFallsBackToThePreviousCheckpoint()
    {
        var mlContext = new MLContext();
        var data = PipelineFixture.Mnist(16).ToDataView(mlContext);
        string folder = Path.Combine(TestContext.TestRunDirectory ?? Path.GetTempPath(), Guid.NewGuid().ToString("N"));
        UViTTrainerOptions Options(int steps, int batch)
        {
            var options = PipelineFixture.TinyOptions(steps);
            options.BatchSize = batch;
            options.CheckpointDirectory = folder;
            options.CheckpointInterval = 1;
            options.ReportInterval = 1;
            return options;
        }
        mlContext.Diffusion().Trainers.UViT(Options(steps: 2, batch: 8)).Fit(data).Dispose();
        Assert.IsTrue(File.Exists(Path.Combine(folder, "previous.ckpt")), "the replaced checkpoint was not kept");

        var other = Assert.ThrowsExactly<ArgumentException>(() => mlContext.Diffusion().Trainers.UViT(Options(steps: 3, batch: 4)).Fit(data).Dispose());
        StringAssert.Contains(other.Message, "batchSize 8 in the checkpoint vs 4 now");

        string latest = Path.Combine(folder, "latest.ckpt");
        byte[] bytes = File.ReadAllBytes(latest);
        bytes[bytes.Length / 3] ^= 0xFF;                      // inside the EMA weights (network, EMA, optimiser: 1, 1 and 2 parts)
        File.WriteAllBytes(latest, bytes);
        var resumed = Options(steps: 3, batch: 8);
        var reports = new Counter();
        resumed.Progress = reports;
        mlContext.Diffusion().Trainers.UViT(resumed).Fit(data).Dispose();
        Assert.AreEqual(2, reports.Count, "a damaged latest.ckpt should resume from previous.ckpt (step 1), then train steps 2 and 3");
    }

    [TestMethod]
    public void ModelSaveThatFailsKeepsThePreviousFile()
    {
        string folder = Path.Combine(TestContext.TestRunDirectory ?? Path.GetTempPath(), Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        string zip = Path.Combine(folder, "model.zip");
        File.WriteAllBytes(zip, [1, 2, 3, 4]);
        var mlContext = new MLContext();
        // ML.NET's Model.Save(path) truncates the file first: a save that dies part-way (here an exception, in life a kill) loses it.
        Assert.ThrowsExactly<IOException>(() => mlContext.Model.SaveAtomically(new FailingTransformer(), null, zip));
        CollectionAssert.AreEqual(new byte[] { 1, 2, 3, 4 }, File.ReadAllBytes(zip), "the previous model was destroyed");
        CollectionAssert.AreEqual(new[] { "model.zip" }, Directory.GetFiles(folder).Select(Path.GetFileName).ToArray(), "a temp file was left");
    }

    /// <summary>A transformer whose save fails part-way, as a disk that fills up would.</summary>
    private sealed class FailingTransformer : ITransformer
    {
        public bool IsRowToRowMapper => true;
        public DataViewSchema GetOutputSchema(DataViewSchema inputSchema) => inputSchema;
        public IRowToRowMapper GetRowToRowMapper(DataViewSchema inputSchema) => throw new NotSupportedException();
        public IDataView Transform(IDataView input) => input;
        void ICanSaveModel.Save(ModelSaveContext ctx) => throw new IOException("No space left on device");
    }

    private static Exception Innermost(Exception e)
    {
        while (e.InnerException is { } inner && e is not InvalidDataException) e = inner;
        return e;
    }

    private static int IndexOf(byte[] bytes, string text) => bytes.AsSpan().IndexOf(Encoding.ASCII.GetBytes(text));

    private static byte[] Replace(byte[] bytes, string from, string to)
    {
        int at = IndexOf(bytes, from);
        Assert.IsGreaterThanOrEqualTo(0, at, $"'{from}' not found in the generation entry");
        Encoding.ASCII.GetBytes(to).CopyTo(bytes, at);
        return bytes;
    }

    /// <summary>A copy of <paramref name="zip"/> whose U-ViT generation entry (the one holding the config JSON) is changed.</summary>
    private string Tampered(string zip, Func<byte[], byte[]> change)
    {
        string copy = Path.Combine(TestContext.TestRunDirectory ?? Path.GetTempPath(), Guid.NewGuid().ToString("N") + ".zip");
        File.Copy(zip, copy);
        using var archive = ZipFile.Open(copy, ZipArchiveMode.Update);
        foreach (var entry in archive.Entries.ToList())
        {
            byte[] bytes;
            using (var stream = entry.Open())
            using (var buffer = new MemoryStream())
            {
                stream.CopyTo(buffer);
                bytes = buffer.ToArray();
            }
            if (IndexOf(bytes, "\"embed_dim\":") < 0) continue;
            string name = entry.FullName;
            entry.Delete();
            using var output = archive.CreateEntry(name).Open();
            output.Write(change(bytes));
            return copy;
        }
        Assert.Fail("no entry holds the U-ViT config");
        return copy;
    }
}
