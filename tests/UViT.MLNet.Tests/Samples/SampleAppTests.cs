// Runs the file-based apps in src/Samples/apps (`dotnet run APP.cs`, which builds them with the repository's
// Directory.Build.props/targets, the Debian libstdc++ fix included) with tiny settings, and checks what they wrote.
using UViT.MLNet.Tests.Support;

namespace UViT.MLNet.Tests.Samples;

[TestClass]
public sealed class SampleAppTests
{
    public TestContext TestContext { get; set; } = null!;

    [TestCleanup]
    public void CleanUp() => SampleOutputs.CleanUp(TestContext);

    private static string AppFolder => Path.Combine(Fixtures.RepoRoot, "src", "Samples", "apps");

    [TestMethod]
    public void AppsFolderHoldsExactlyTheTestedApps()
    {
        var apps = Directory.GetFiles(AppFolder, "*.cs").Select(Path.GetFileName).Order().ToList();
        CollectionAssert.AreEqual(new[] { "latent-diffusion.cs", "official-checkpoints.cs", "quick-start.cs", "text-to-image.cs", "your-own-images.cs" }, apps,
                                  "an app was added or renamed: give it a test below");
    }

    [TestMethod]
    public void QuickStartTrainsSavesAndDrawsEveryDigit()
    {
        var (output, log) = Run("quick-start", "--steps", "5");
        StringAssert.Contains(log, "10000 digits of 28x28, 10 classes");
        SampleOutputs.AssertModelZip(Path.Combine(output, "model.zip"), log);
        SampleOutputs.AssertPng(Path.Combine(output, "samples.png"), 5 * 4 * 28, 10 * 4 * 28, log);
    }

    [TestMethod]
    public void OfficialCheckpointsRunsOnStandIns()
    {
        var (output, log) = Run("official-checkpoints", "--sample-steps", "3");
        StringAssert.Contains(log, "random stand-ins");
        SampleOutputs.AssertPng(Path.Combine(output, "samples.png"), 2 * 2 * 64, 5 * 2 * 64, log);
        SampleOutputs.AssertModelZip(Path.Combine(output, "model.zip"), log);
    }

    [TestMethod]
    public void YourOwnImagesDrawsShapesTrainsAndDrawsEveryClass()
    {
        var (output, log) = Run("your-own-images", "--steps", "5");
        StringAssert.Contains(log, "60 images in 3 classes");
        SampleOutputs.AssertModelZip(Path.Combine(output, "model.zip"), log);
        SampleOutputs.AssertPng(Path.Combine(output, "samples.png"), 8 * 4 * 16, 3 * 4 * 16, log);
    }

    [TestMethod]
    public void LatentDiffusionRunsOnAStandInAutoencoder()
    {
        var (output, log) = Run("latent-diffusion", "--steps", "5");
        StringAssert.Contains(log, "16x16 -> 4x8x8 latents");
        SampleOutputs.AssertModelZip(Path.Combine(output, "model.zip"), log);
        SampleOutputs.AssertPng(Path.Combine(output, "samples.png"), 6 * 4 * 16, 2 * 4 * 16, log);
    }

    [TestMethod]
    public void TextToImageTrainsOnCaptionsAndDrawsEveryPrompt()
    {
        var (output, log) = Run("text-to-image", "--steps", "5");
        StringAssert.Contains(log, "240 shapes of 16x16, 3 captions each");
        SampleOutputs.AssertModelZip(Path.Combine(output, "model.zip"), log);
        SampleOutputs.AssertPng(Path.Combine(output, "samples.png"), 2 * 4 * 16, 12 * 4 * 16, log);   // 12 prompts x 2 seeds
        StringAssert.Contains(log, "prompt check: colour");
        StringAssert.Contains(log, "of 24 images");
    }

    /// <summary>Runs `dotnet run -c CONFIG APP.cs -- ARGS --output DIR`; returns DIR and the app's output.</summary>
    private (string Output, string Log) Run(string app, params string[] arguments)
    {
        string output = SampleOutputs.NewFolder(TestContext, app);
        var (exitCode, log) = DotnetProcess.Run(AppFolder, new Dictionary<string, string>(), TimeSpan.FromMinutes(5),
            ["run", "-c", DotnetProcess.Configuration, app + ".cs", "--", .. arguments, "--output", output]);
        TestContext.WriteLine(log);
        Assert.AreEqual(0, exitCode, $"`dotnet run {app}.cs` failed:\n{log}");
        return (output, log);
    }
}
