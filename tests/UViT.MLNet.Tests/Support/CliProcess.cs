// Runs the `uvit` CLI (built beside the tests, not referenced) in a fresh process.
using System.Diagnostics;

namespace UViT.MLNet.Tests.Support;

internal static class CliProcess
{
    /// <summary>Runs <c>dotnet uvit.dll ARGS</c> and returns its exit code and stdout + stderr.</summary>
    public static (int ExitCode, string Output) Run(params string[] arguments)
    {
        string configuration = new DirectoryInfo(AppContext.BaseDirectory).Parent!.Name;   // Debug or Release
        string cli = Path.Combine(Fixtures.RepoRoot, "src", "Samples", "Cli", "bin", configuration, "net10.0", "uvit.dll");
        Assert.IsTrue(File.Exists(cli), $"The CLI is not built at {cli}.");
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(cli);
        foreach (string argument in arguments) start.ArgumentList.Add(argument);
        using var process = Process.Start(start)!;
        var error = process.StandardError.ReadToEndAsync();
        string output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, output + error.Result);
    }
}
