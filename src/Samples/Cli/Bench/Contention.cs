// `uvit bench --cases contention`: two generation processes side by side against one alone, with and without the OpenMP
// defaults of OpenMpDefaults (a short spin before idle threads sleep, threads = physical cores). Each process is this tool running the
// mnist_generate case; its JSON line gives its images/s.
using System.Diagnostics;
using System.Text.Json;
using UViT.MLNet.Core.Runtime;

namespace UViT.MLNet.Cli.Bench;

internal static class Contention
{
    /// <summary>
    /// Solo and paired runs with the defaults (<paramref name="runs"/> timed generations each), solo without them, and - when
    /// <paramref name="unprotectedPair"/> - paired without them (1 timed generation each: unprotected it takes minutes).
    /// Speeds are the median images/s of each process; paired/solo is the slower process of the pair over the solo one.
    /// </summary>
    public static Dictionary<string, object> Run(int batch, int runs, bool unprotectedPair)
    {
        var record = new Dictionary<string, object> { ["case"] = "contention", ["batch"] = batch, ["runs_per_process"] = runs };
        var protectedSolo = Start(1, batch, runs, protect: true)[0];
        var protectedPair = Start(2, batch, runs, protect: true);
        var unprotectedSolo = Start(1, batch, runs, protect: false)[0];
        record["protected_solo_images_per_second"] = protectedSolo;
        record["protected_paired_images_per_second"] = protectedPair;
        record["protected_paired_over_solo"] = Math.Round(protectedPair.Min() / protectedSolo, 3);
        record["unprotected_solo_images_per_second"] = unprotectedSolo;
        record["protection_cost_solo_percent"] = Math.Round(100 * (1 - protectedSolo / unprotectedSolo), 1);
        if (unprotectedPair)
        {
            var pair = Start(2, batch, 1, protect: false);
            record["unprotected_paired_images_per_second"] = pair;
            record["unprotected_paired_over_solo"] = Math.Round(pair.Min() / unprotectedSolo, 3);
        }
        record["load_average_at_end"] = File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Trim() : "unknown";
        return record;
    }

    // Starts `count` copies of this tool running the mnist_generate case at once; returns each one's median images/s.
    private static double[] Start(int count, int batch, int runs, bool protect)
    {
        var processes = Enumerable.Range(0, count).Select(_ => Process.Start(StartInfo(batch, runs, protect))!).ToList();
        var outputs = processes.Select(p => p.StandardOutput.ReadToEndAsync()).ToList();
        var errors = processes.Select(p => p.StandardError.ReadToEndAsync()).ToList();
        var speeds = new double[count];
        for (int i = 0; i < count; i++)
        {
            processes[i].WaitForExit();
            string output = outputs[i].Result;
            if (processes[i].ExitCode != 0) throw new InvalidOperationException($"A contention worker failed (exit {processes[i].ExitCode}): {errors[i].Result.Trim()}");
            using var line = JsonDocument.Parse(output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Last());
            speeds[i] = line.RootElement.GetProperty("images_per_second").GetProperty("median").GetDouble();
            processes[i].Dispose();
        }
        return speeds;
    }

    private static ProcessStartInfo StartInfo(int batch, int runs, bool protect)
    {
        string host = Environment.ProcessPath ?? "dotnet";
        var info = new ProcessStartInfo(host) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        if (Path.GetFileNameWithoutExtension(host).Equals("dotnet", StringComparison.OrdinalIgnoreCase))
            info.ArgumentList.Add(typeof(Contention).Assembly.Location);   // run as `dotnet uvit.dll`
        foreach (string arg in new[] { "bench", "--cases", "mnist_generate", "--generate-batch", batch.ToString(), "--generate-runs", runs.ToString() })
            info.ArgumentList.Add(arg);
        // The workers decide for themselves: the parent's own defaults live in its native environment, not in the managed
        // copy that ProcessStartInfo passes on. Unprotected = what users got before: nothing set.
        info.Environment.Remove("OMP_WAIT_POLICY");
        info.Environment.Remove("OMP_NUM_THREADS");
        info.Environment.Remove("GOMP_SPINCOUNT");
        info.Environment[OpenMpDefaults.OptOutVariable] = protect ? "on" : "off";
        return info;
    }
}
