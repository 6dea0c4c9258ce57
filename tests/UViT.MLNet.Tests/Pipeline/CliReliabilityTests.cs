// `uvit train` in a separate process (#18 items 4, 6, 7, 9, 10): bad settings are refused before any training with one
// `error:` line and exit code 1, an earlier run's checkpoint is not replaced silently, a corrupt image is named, a diverged
// run exits 3, and SIGTERM stops at a step boundary and still writes the checkpoint and the model. `uvit sample` draws
// chosen classes, counts and one PNG per image from class models and unconditional ones, and refuses what a model cannot do.
using System.Diagnostics;
using System.Text;
using SkiaSharp;
using Microsoft.ML;
using UViT.MLNet.Core.Generation;
using UViT.MLNet.Core.Networks;
using UViT.MLNet.Core.Training;
using UViT.MLNet.Tests.Support;
using UViT.MLNet.Transforms.Generation;
using UViT.MLNet.Transforms.Persistence;

namespace UViT.MLNet.Tests.Pipeline;

[TestClass]
public sealed class CliReliabilityTests
{
    public TestContext TestContext { get; set; } = null!;

    private string NewFolder() => TestContext.NewFolder();

    /// <summary>Two classes of four 16x16 grey PNGs (plain shades: enough for the CLI to train on).</summary>
    private static string WriteImages(string root)
    {
        string images = Path.Combine(root, "images");
        for (int label = 0; label < 2; label++)
        {
            Directory.CreateDirectory(Path.Combine(images, $"c{label}"));
            for (int i = 0; i < 4; i++)
            {
                using var bitmap = new SKBitmap(new SKImageInfo(16, 16, SKColorType.Gray8));
                bitmap.Erase(new SKColor((byte)(40 + 150 * label + 10 * i), 0, 0));
                using var png = SKImage.FromBitmap(bitmap).Encode(SKEncodedImageFormat.Png, 100);
                File.WriteAllBytes(Path.Combine(images, $"c{label}", $"{i}.png"), png.ToArray());
            }
        }
        return images;
    }

    /// <summary>The arguments of a tiny, fast run; <paramref name="extra"/> options replace the defaults of the same name.</summary>
    private static string[] TinyTrain(string images, string output, params string[] extra)
    {
        string[] defaults = ["--data", images, "--image-size", "8", "--batch-size", "4", "--width", "16", "--depth", "2", "--patch-size", "4",
                             "--per-class", "1", "--sample-steps", "1", "--threads", "1", "-o", output];
        var kept = defaults.Chunk(2).Where(pair => !extra.Contains(pair[0])).SelectMany(pair => pair);
        return ["train", "--grayscale", .. kept, .. extra];
    }

    private static void AssertOneErrorLine(int exit, string log, int expectedExit)
    {
        Assert.AreEqual(expectedExit, exit, log);
        StringAssert.Contains(log, "error: ", log);
        Assert.DoesNotContain("Unhandled exception", log, log);
        Assert.DoesNotContain("   at ", log, "a stack trace without --verbose:\n" + log);
    }

    [TestMethod]
    public void SampleDrawsTheChosenClassesAndCountsWithOnePngEach()
    {
        string root = NewFolder(), images = WriteImages(root), output = Path.Combine(root, "out");
        var (exit, log) = CliProcess.Run(TinyTrain(images, output, "--steps", "2"));
        Assert.AreEqual(0, exit, log);
        string zip = Path.Combine(output, "model.zip"), perImage = Path.Combine(root, "each"), grid = Path.Combine(root, "grid.png");
        (exit, log) = CliProcess.Run("sample", zip, "--class", "c1", "--class", "0", "--count", "3", "--sample-steps", "1", "--out-dir", perImage, "-o", grid);
        Assert.AreEqual(0, exit, log);
        Assert.HasCount(3, Directory.GetFiles(perImage, "class01-seed*.png"), log);
        Assert.HasCount(3, Directory.GetFiles(perImage, "class00-seed*.png"), log);
        Assert.IsTrue(File.Exists(grid), log);
        (exit, log) = CliProcess.Run("sample", zip, "--prompt", "a digit");
        AssertOneErrorLine(exit, log, 1);
        (exit, log) = CliProcess.Run("sample", zip, "--class", "c7");
        AssertOneErrorLine(exit, log, 1);
        (exit, log) = CliProcess.Run("sample", zip, "--device", "gpu");
        AssertOneErrorLine(exit, log, 1);
        StringAssert.Contains(log, "cuda:N", log);
        (exit, log) = CliProcess.Run("sample", zip, "--device", "cuda:99");   // no CUDA here, or not 100 devices: an error, not a CPU run
        AssertOneErrorLine(exit, log, 1);

        // The zip's input schema is what generation reads, not the training folder's columns (Path, ClassName).
        var model = new MLContext().LoadChecked(zip, out var schema);
        CollectionAssert.AreEqual(new[] { "Label", "Seed" }, schema.Select(c => c.Name).ToArray());
        (model as IDisposable)?.Dispose();
        (exit, log) = CliProcess.Run("sample", "--help");
        StringAssert.Contains(log, "default: the model's", log);
        Assert.DoesNotContain("[default: 30]", log, "sample --help shows a step count the model's setting overrides");
    }

    [TestMethod]
    public void TrainBuildsTheNetworkAndRecipeTheOptionsAsk()
    {
        // Adaptive layer norm instead of time and label tokens, and no guidance dropout: then the network has no null class.
        string root = NewFolder(), images = WriteImages(root), output = Path.Combine(root, "out");
        var (exit, log) = CliProcess.Run(TinyTrain(images, output, "--steps", "2", "--time-conditioning", "AdaLayerNorm", "--guidance-dropout", "0", "--guidance", "0"));
        Assert.AreEqual(0, exit, log);
        var model = new MLContext().RegisterUViT().LoadChecked(Path.Combine(output, "model.zip"), out _);
        var transformer = ((IEnumerable<ITransformer>)model).OfType<UViTGenerationTransformer>().Single();
        var generator = transformer.Generator;
        Assert.AreEqual(UViTTimeConditioning.AdaLayerNorm, generator.Config.TimeConditioning, log);
        Assert.IsNull(generator.NullClass, log);
        Assert.AreEqual(2, generator.Config.NumClasses, "two classes and no null class");
        Assert.AreEqual(SamplerKind.Ddim, transformer.Settings.Sampler, "train's default sampler is saved in the model");
        Assert.AreEqual(2.0, transformer.Settings.DdimEta, "train's default DDIM eta is saved in the model");
        (model as IDisposable)?.Dispose();
        string zip = Path.Combine(output, "model.zip");
        (exit, log) = CliProcess.Run("sample", zip, "--count", "1", "--sample-steps", "1", "-o", Path.Combine(root, "saved.png"));
        Assert.AreEqual(0, exit, log);
        StringAssert.Contains(log, "Ddim (eta 2), 1 steps", "without --ddim-eta the model's saved eta applies");
        (exit, log) = CliProcess.Run("sample", zip, "--count", "1", "--sample-steps", "1", "--ddim-eta", "0.5", "-o", Path.Combine(root, "eta.png"));
        Assert.AreEqual(0, exit, log);
        StringAssert.Contains(log, "Ddim (eta 0.5), 1 steps", log);
        (exit, log) = CliProcess.Run(TinyTrain(images, Path.Combine(root, "bad"), "--guidance-dropout", "1.5"));
        AssertOneErrorLine(exit, log, 1);
        // Guidance (train's default s = 2) without guidance dropout is refused before training, not after it.
        (exit, log) = CliProcess.Run(TinyTrain(images, Path.Combine(root, "unguidable"), "--guidance-dropout", "0", "--steps", "100000"));
        AssertOneErrorLine(exit, log, 1);
        StringAssert.Contains(log, "GuidanceScale", log);
        Assert.DoesNotContain("training [", log, "refused after training had started:\n" + log);
    }

    [TestMethod]
    public void SampleDrawsAnUnconditionalModel()
    {
        // An unconditional model (random weights: only the rows and files are checked), saved as a library user would.
        string root = NewFolder(), zip = Path.Combine(root, "model.zip"), perImage = Path.Combine(root, "each");
        var mlContext = new MLContext(seed: 1).RegisterUViT();
        var config = new UViTConfig { ImageSize = 8, PatchSize = 4, InChannels = 1, EmbedDim = 16, Depth = 1, NumHeads = 2 };
        using (var generator = new UViTGenerationTransformer(new UViTGenerator(new UViTNetwork(config, seed: 1), new UViTNetwork(config, seed: 2), NoiseScheduleKind.ContinuousVP, nullClass: null),
                                                             new SamplerSettings { Steps = 1 }, PixelRange.Bytes))
            mlContext.Model.Save(generator, generator.CreateRequests(mlContext, [1L]).Schema, zip);
        var (exit, log) = CliProcess.Run("sample", zip, "--count", "3", "--out-dir", perImage, "-o", Path.Combine(root, "grid.png"));
        Assert.AreEqual(0, exit, log);
        Assert.HasCount(3, Directory.GetFiles(perImage, "*.png"), log);
        (exit, log) = CliProcess.Run("sample", zip, "--class", "0");
        AssertOneErrorLine(exit, log, 1);
    }

    [TestMethod]
    public void BadSettingsAreRefusedBeforeTraining()
    {
        string root = NewFolder(), images = WriteImages(root);
        string[][] cases =
        [
            ["--threads", "0"], ["--minutes", "0"], ["--sample-steps", "2147483647"], ["--guidance", "1e300"], ["--guidance", "NaN"],
            ["--checkpoint-every", "0"], ["--steps", "0"], ["--sampler", "EulerMaruyama", "--schedule", "DiscreteSD"],
        ];
        foreach (var extra in cases)
        {
            string output = Path.Combine(root, Guid.NewGuid().ToString("N"));
            var (exit, log) = CliProcess.Run(TinyTrain(images, output, extra));
            AssertOneErrorLine(exit, log, 1);
            Assert.IsFalse(File.Exists(Path.Combine(output, "model.zip")), $"{string.Join(' ', extra)} trained anyway:\n{log}");
        }
    }

    [TestMethod]
    public void VerboseAddsTheStackTraceAndUsageErrorsExitTwo()
    {
        string root = NewFolder(), images = WriteImages(root);
        var (exit, log) = CliProcess.Run(TinyTrain(images, Path.Combine(root, "out"), "--threads", "0", "--verbose"));
        Assert.AreEqual(1, exit, log);
        StringAssert.Contains(log, "error: ");
        StringAssert.Contains(log, "   at ", "--verbose shows where the error came from:\n" + log);
        (exit, log) = CliProcess.Run("train", "--no-such-option");
        Assert.AreEqual(2, exit, log);
    }

    [TestMethod]
    public void EarlierRunIsNotReplacedWithoutResumeOrForce()
    {
        string root = NewFolder(), images = WriteImages(root), output = Path.Combine(root, "out");
        string latest = Path.Combine(output, "checkpoint", "latest.ckpt");
        Directory.CreateDirectory(Path.GetDirectoryName(latest)!);
        File.WriteAllBytes(latest, [1, 2, 3]);
        var (exit, log) = CliProcess.Run(TinyTrain(images, output, "--steps", "2"));
        AssertOneErrorLine(exit, log, 1);
        StringAssert.Contains(log, "--resume");
        CollectionAssert.AreEqual(new byte[] { 1, 2, 3 }, File.ReadAllBytes(latest), "the earlier run's checkpoint was replaced");
    }

    [TestMethod]
    public void CorruptImageIsNamed()
    {
        string root = NewFolder(), images = WriteImages(root);
        string bad = Path.Combine(images, "c1", "2.png");
        File.WriteAllBytes(bad, [.. File.ReadAllBytes(bad).Take(40)]);                                    // cut inside the header
        var (exit, log) = CliProcess.Run(TinyTrain(images, Path.Combine(root, "out"), "--steps", "2"));
        AssertOneErrorLine(exit, log, 1);
        StringAssert.Contains(log, bad);
    }

    [TestMethod]
    public void DivergedRunExitsThreeWithOneLine()
    {
        string root = NewFolder(), images = WriteImages(root);
        var (exit, log) = CliProcess.Run(TinyTrain(images, Path.Combine(root, "out"), "--steps", "200", "--learning-rate", "1e30"));
        AssertOneErrorLine(exit, log, 3);
        StringAssert.Contains(log, "diverged");
    }

    [TestMethod]
    public void SigtermStopsAtAStepAndWritesCheckpointAndModel()
    {
        if (OperatingSystem.IsWindows()) Assert.Inconclusive("SIGTERM is a POSIX signal.");
        string root = NewFolder(), images = WriteImages(root), output = Path.Combine(root, "out");
        string configuration = new DirectoryInfo(AppContext.BaseDirectory).Parent!.Name;
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(Path.Combine(Fixtures.RepoRoot, "src", "Samples", "Cli", "bin", configuration, "net10.0", "uvit.dll"));
        foreach (string argument in TinyTrain(images, output, "--steps", "1000000", "--checkpoint-every", "1000000")) start.ArgumentList.Add(argument);
        using var process = Process.Start(start)!;
        var log = new StringBuilder();
        var training = new TaskCompletionSource();
        process.OutputDataReceived += (_, e) => { lock (log) log.AppendLine(e.Data); if (e.Data?.StartsWith("data:", StringComparison.Ordinal) == true) training.TrySetResult(); };
        process.ErrorDataReceived += (_, e) => { lock (log) log.AppendLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        Assert.IsTrue(training.Task.Wait(TimeSpan.FromSeconds(120)), "training did not start:\n" + log);
        Thread.Sleep(TimeSpan.FromSeconds(5));                                                             // well into the steps
        using (var kill = Process.Start("kill", ["-TERM", process.Id.ToString()])) kill.WaitForExit();
        Assert.IsTrue(process.WaitForExit(TimeSpan.FromSeconds(180)), "the run did not stop after SIGTERM:\n" + log);
        process.WaitForExit();
        Assert.AreEqual(0, process.ExitCode, log.ToString());
        Assert.IsTrue(File.Exists(Path.Combine(output, "checkpoint", "latest.ckpt")), "no checkpoint after SIGTERM:\n" + log);
        Assert.IsTrue(File.Exists(Path.Combine(output, "model.zip")), "no model after SIGTERM:\n" + log);
    }

    [TestMethod]
    public void CraftedCheckpointsFailCleanlyInInspectAndConvert()
    {
        string root = NewFolder();
        string nested = Path.Combine(root, "nested.pth");
        File.WriteAllBytes(nested, CraftedFiles.NestedLegacyPickle(100_000));
        string negative = Path.Combine(root, "negative.safetensors");
        File.WriteAllBytes(negative, CraftedFiles.Safetensors("""{"w":{"dtype":"F32","shape":[2],"data_offsets":[-8,0]}}""", new byte[8]));
        foreach (string file in new[] { nested, negative })
        {
            var (exit, log) = CliProcess.Run("inspect", file);
            AssertOneErrorLine(exit, log, 1);
            string converted = Path.Combine(root, Path.GetFileNameWithoutExtension(file) + ".out.safetensors");
            (exit, log) = CliProcess.Run("convert", file, converted);
            AssertOneErrorLine(exit, log, 1);
            Assert.IsFalse(File.Exists(converted), "convert wrote the bad file's bytes out:\n" + log);
        }
    }
}
