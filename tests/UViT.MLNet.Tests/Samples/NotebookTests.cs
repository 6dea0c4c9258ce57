// Runs every notebook in src/Samples/notebooks headless with the dotnet-repl tool (restored from .config/dotnet-tools.json)
// and fails with the failing cells' errors. Each notebook writes into UVIT_SAMPLES_OUTPUT; the test checks what it left there
// and that the executed notebook shows an image inline. The notebooks reference src/Samples/Support/bin/Release: a Debug test
// run builds that first.
using System.Text;
using System.Text.Json;
using UViT.MLNet.Tests.Support;

namespace UViT.MLNet.Tests.Samples;

[TestClass]
public sealed class NotebookTests
{
    public TestContext TestContext { get; set; } = null!;

    [TestCleanup]
    public void CleanUp() => SampleOutputs.CleanUp(TestContext);

    private static string NotebookFolder => Path.Combine(Fixtures.RepoRoot, "src", "Samples", "notebooks");

    [TestMethod]
    public void NotebooksFolderHoldsExactlyTheTestedNotebooks()
    {
        var notebooks = Directory.GetFiles(NotebookFolder, "*.ipynb").Select(Path.GetFileName).Order().ToList();
        CollectionAssert.AreEqual(new[] { "01-quick-start.ipynb", "02-your-own-images.ipynb", "03-official-checkpoints.ipynb", "04-latent-diffusion.ipynb", "05-text-to-image.ipynb", "06-ablations.ipynb" },
                                  notebooks, "a notebook was added or renamed: give it a test below");
    }

    [TestMethod]
    public void QuickStart()
    {
        var (output, log) = Run("01-quick-start");
        SampleOutputs.AssertPng(Path.Combine(output, "training-digits.png"), 10 * 28, 2 * 28, log);
        SampleOutputs.AssertPng(Path.Combine(output, "samples.png"), 5 * 4 * 28, 10 * 4 * 28, log);   // 5 per digit, 10 rows, 4x scale
        SampleOutputs.AssertModelZip(Path.Combine(output, "model.zip"), log);
    }

    [TestMethod]
    public void YourOwnImages()
    {
        var (output, log) = Run("02-your-own-images");
        Assert.HasCount(20, Directory.GetFiles(Path.Combine(output, "shapes", "red-discs"), "*.png"), "the notebook draws 20 images per class");
        SampleOutputs.AssertPng(Path.Combine(output, "samples.png"), 8 * 4 * 16, 3 * 4 * 16, log);
        SampleOutputs.AssertPng(Path.Combine(output, "training-images.png"), 8 * 2 * 32, 3 * 2 * 32, log);
        SampleOutputs.AssertModelZip(Path.Combine(output, "model.zip"), log);
    }

    [TestMethod]
    public void OfficialCheckpoints()
    {
        var (output, log) = Run("03-official-checkpoints");
        SampleOutputs.AssertPng(Path.Combine(output, "samples.png"), 2 * 2 * 64, 5 * 2 * 64, log);
        SampleOutputs.AssertModelZip(Path.Combine(output, "model.zip"), log);
        StringAssert.Contains(log, "reloaded model gives the same images");
    }

    [TestMethod]
    public void LatentDiffusion()
    {
        var (output, log) = Run("04-latent-diffusion");
        SampleOutputs.AssertPng(Path.Combine(output, "samples.png"), 6 * 4 * 16, 2 * 4 * 16, log);
        SampleOutputs.AssertModelZip(Path.Combine(output, "model.zip"), log);
    }

    [TestMethod]
    public void TextToImage()
    {
        var (output, log) = Run("05-text-to-image");
        SampleOutputs.AssertPng(Path.Combine(output, "training-images.png"), 4 * 4 * 16, 12 * 4 * 16, log);
        SampleOutputs.AssertPng(Path.Combine(output, "samples.png"), 2 * 4 * 16, 12 * 4 * 16, log);   // 12 prompts x 2 seeds, 4x scale
        SampleOutputs.AssertModelZip(Path.Combine(output, "model.zip"), log);
        StringAssert.Contains(log, "Context: Vector<Single, 3, 16, 64>, annotated with UViT.EmptyContext");
        StringAssert.Contains(log, "prompt check: colour");
        StringAssert.Contains(log, "empty-prompt annotation kept", "the notebook says ML.NET's binary format keeps the empty context");
    }

    [TestMethod]
    public void Ablations()
    {
        var (output, log) = Run("06-ablations");
        SampleOutputs.AssertPng(Path.Combine(output, "variants.png"), 10 * 4 * 28, 6 * 4 * 28, log);   // a row per variant, 4x scale
        foreach (string variant in new[] { "baseline", "no-skip", "add-skip", "adaln", "no-conv", "smaller-patch" })
            StringAssert.Contains(log, $"| {variant} |", "the table has a row per variant");
        StringAssert.Contains(log, "smaller-patch   51 tokens");
    }

    /// <summary>Runs NAME.ipynb; returns the folder it wrote to and the text of its cell outputs.</summary>
    private (string Output, string Log) Run(string name)
    {
        ReleaseBuild.Value.Ensure();
        string root = SampleOutputs.NewFolder(TestContext, name);
        string executed = Path.Combine(root, name + ".executed.ipynb");
        var (exitCode, console) = DotnetProcess.Run(NotebookFolder, new Dictionary<string, string> { ["UVIT_SAMPLES_OUTPUT"] = root }, TimeSpan.FromMinutes(5),
            "tool", "run", "dotnet-repl", "--", "--run", name + ".ipynb", "--exit-after-run", "--output-path", executed);
        if (console.Contains("dotnet tool restore", StringComparison.Ordinal) || console.Contains("Cannot find a manifest", StringComparison.Ordinal))
            Assert.Fail($"The dotnet-repl tool is not installed. Run `dotnet tool restore` in {Fixtures.RepoRoot} (it reads .config/dotnet-tools.json).\n{console}");
        Assert.IsTrue(File.Exists(executed), $"dotnet-repl exited with {exitCode} and wrote no executed notebook:\n{console}");

        var (log, errors, images) = ReadOutputs(executed);
        TestContext.WriteLine(log);
        Assert.IsEmpty(errors, $"{name}.ipynb: {errors.Count} cell(s) failed (dotnet-repl exit code {exitCode}):\n{string.Join("\n\n", errors)}");
        Assert.AreEqual(0, exitCode, $"dotnet-repl exited with {exitCode}:\n{console}\n{log}");
        Assert.IsGreaterThan(0, images, $"{name}.ipynb displayed no PNG inline");
        return (Path.Combine(root, name), log);
    }

    /// <summary>The executed notebook's text outputs, its failed cells (source head + error) and how many PNGs it displayed.</summary>
    private static (string Log, List<string> Errors, int Images) ReadOutputs(string executedNotebook)
    {
        using var document = JsonDocument.Parse(File.ReadAllText(executedNotebook));
        var log = new StringBuilder();
        var errors = new List<string>();
        int images = 0, index = 0;
        foreach (var cell in document.RootElement.GetProperty("cells").EnumerateArray())
        {
            index++;
            if (!cell.TryGetProperty("outputs", out var outputs)) continue;
            string source = string.Concat(cell.GetProperty("source").EnumerateArray().Select(s => s.GetString()));
            foreach (var output in outputs.EnumerateArray())
            {
                switch (output.GetProperty("output_type").GetString())
                {
                    case "stream":
                        log.Append(string.Concat(output.GetProperty("text").EnumerateArray().Select(s => s.GetString())));
                        break;
                    case "error":
                        errors.Add($"cell {index} ({source.Split('\n')[0].Trim()}...):\n{output.GetProperty("evalue").GetString()}");
                        break;
                    case "display_data" or "execute_result":
                        if (output.GetProperty("data").TryGetProperty("image/png", out _)) images++;
                        break;
                }
            }
        }
        return (log.ToString(), errors, images);
    }

    /// <summary>The notebooks `#r` the library from the Release build of src/Samples/Support; a Release test run has just built it, a Debug one builds it here once.</summary>
    private static readonly Lazy<ReleaseBuildCheck> ReleaseBuild = new(() => new ReleaseBuildCheck());

    private sealed class ReleaseBuildCheck
    {
        private readonly string? _failure;

        public ReleaseBuildCheck()
        {
            if (DotnetProcess.Configuration == "Release") return;
            var (exitCode, output) = DotnetProcess.Run(Fixtures.RepoRoot, new Dictionary<string, string>(), TimeSpan.FromMinutes(10),
                "build", Path.Combine("src", "Samples", "Support"), "-c", "Release");
            if (exitCode != 0) _failure = $"`dotnet build src/Samples/Support -c Release` (which the notebooks reference) failed:\n{output}";
        }

        public void Ensure()
        {
            if (_failure is not null) Assert.Fail(_failure);
            string library = Path.Combine(Fixtures.RepoRoot, "src", "Samples", "Support", "bin", "Release", "net10.0", "UViT.MLNet.Estimators.dll");
            Assert.IsTrue(File.Exists(library), $"{library} is missing: run `dotnet build src/Samples/Support -c Release`.");
        }
    }
}
