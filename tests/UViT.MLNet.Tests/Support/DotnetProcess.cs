// Runs the `dotnet` host (a tool, `dotnet run app.cs`, `dotnet build`) in a fresh process, with a time limit.
using System.Diagnostics;

namespace UViT.MLNet.Tests.Support;

internal static class DotnetProcess
{
    /// <summary>
    /// Runs <c>dotnet ARGS</c> in <paramref name="workingDirectory"/> with <paramref name="environment"/> added, and returns
    /// its exit code and stdout + stderr. A process still running after <paramref name="timeout"/> is killed (with its
    /// children) and the test fails with what it printed so far.
    /// </summary>
    public static (int ExitCode, string Output) Run(string workingDirectory, IReadOnlyDictionary<string, string> environment, TimeSpan timeout, params string[] arguments)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = workingDirectory, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        foreach (string argument in arguments) start.ArgumentList.Add(argument);
        foreach (var (name, value) in environment) start.Environment[name] = value;
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";

        using var process = Process.Start(start)!;
        var output = new System.Text.StringBuilder();
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
            lock (output) Assert.Fail($"`dotnet {string.Join(' ', arguments)}` did not finish within {timeout.TotalMinutes:F0} minutes:\n{output}");
        }
        process.WaitForExit();   // drains the redirected streams
        lock (output) return (process.ExitCode, output.ToString());
    }

    /// <summary>Debug or Release: the configuration these tests were built in.</summary>
    public static string Configuration => new DirectoryInfo(AppContext.BaseDirectory).Parent!.Name;
}
