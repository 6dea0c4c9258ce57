namespace UViT.MLNet.Cli.Bench;

/// <summary>What a benchmark line must say about where it ran.</summary>
internal static class BenchMachine
{
    public static Dictionary<string, object> Describe() => new()
    {
        ["machine"] = CpuModel(),
        ["cores"] = Environment.ProcessorCount,
        ["threads"] = TorchSharp.torch.get_num_threads(),
        ["libtorch"] = TorchSharp.torch.__version__,
        ["os"] = System.Runtime.InteropServices.RuntimeInformation.OSDescription,
        ["openmp"] = UViT.MLNet.Core.Runtime.OpenMpDefaults.Description,
        ["load_average"] = File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "unknown",
    };

    private static string CpuModel()
    {
        try
        {
            var line = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal));
            return line?.Split(':', 2)[1].Trim() ?? "unknown";
        }
        catch (IOException)
        {
            return "unknown";
        }
    }

    /// <summary>Peak and current resident set size of this process, in MiB (Linux; 0 elsewhere).</summary>
    public static (double Peak, double Current) ResidentMiB()
    {
        try
        {
            double Read(string key) => File.ReadLines("/proc/self/status").Where(l => l.StartsWith(key, StringComparison.Ordinal))
                                           .Select(l => double.Parse(l.Split(':')[1].Trim().Split(' ')[0]) / 1024).FirstOrDefault();
            return (Read("VmHWM"), Read("VmRSS"));
        }
        catch (IOException)
        {
            return (0, 0);
        }
    }
}
