// Runs the `uvit` CLI (built beside the tests, not referenced) in a fresh process.
using System.Diagnostics;

namespace UViT.MLNet.Tests.Support;

internal static class CliProcess
{
    /// <summary>Runs <c>dotnet uvit.dll ARGS</c> and returns its exit code and stdout + stderr.</summary>
    public static (int ExitCode, string Output) Run(params string[] arguments) => Run(new Dictionary<string, string>(), arguments);

    /// <summary>Runs the CLI with <paramref name="environment"/> added to (or replacing entries of) the inherited environment.</summary>
    public static (int ExitCode, string Output) Run(IReadOnlyDictionary<string, string> environment, params string[] arguments)
    {
        string configuration = new DirectoryInfo(AppContext.BaseDirectory).Parent!.Name;   // Debug or Release
        string cli = Path.Combine(Fixtures.RepoRoot, "src", "Samples", "Cli", "bin", configuration, "net10.0", "uvit.dll");
        Assert.IsTrue(File.Exists(cli), $"The CLI is not built at {cli}.");
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(cli);
        foreach (string argument in arguments) start.ArgumentList.Add(argument);
        // A test run inside a Slurm array or Kubernetes Indexed Job must not shard the CLI runs it starts.
        foreach (string variable in new[] { "JOB_COMPLETION_INDEX", "SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_COUNT", "SLURM_ARRAY_TASK_MIN", "SLURM_ARRAY_TASK_STEP" })
            start.Environment.Remove(variable);
        foreach (var (name, value) in environment) start.Environment[name] = value;
        using var process = Process.Start(start)!;
        var error = process.StandardError.ReadToEndAsync();
        string output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, output + error.Result);
    }
}
