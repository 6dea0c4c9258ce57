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

    /// <summary>
    /// glibc's heap, in MiB (mallinfo2); null off glibc. <c>InUse</c>: bytes handed out and not had back - unlike resident
    /// memory it does not count freed-but-kept pages, so a rise is native memory still allocated: a leak when it keeps rising.
    /// <c>FreeKept</c>: free chunks glibc keeps inside its heaps (fragmentation when it grows). <c>Mapped</c>: chunks mmap'ed on
    /// their own (libtorch's larger tensors; returned when freed). Resident memory that grows while none of them does is
    /// memory outside malloc.
    /// </summary>
    public static (double InUse, double FreeKept, double Mapped)? NativeHeapMiB()
    {
        if (!OperatingSystem.IsLinux()) return null;
        try
        {
            var info = mallinfo2();
            return (info.InUse / 1048576.0, info.FreeKept / 1048576.0, info.Mapped / 1048576.0);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return null;   // musl and other C libraries without mallinfo2
        }
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "mallinfo2")]
    private static extern MallInfo2 mallinfo2();

    /// <summary>glibc's struct mallinfo2 (all size_t).</summary>
    [System.Runtime.InteropServices.StructLayout(System.Runtime.InteropServices.LayoutKind.Sequential)]
    private readonly struct MallInfo2
    {
        private readonly nuint Arena, OrdBlks, SmBlks, HBlks, HBlkHd, UsmBlks, FsmBlks, UordBlks, FordBlks, KeepCost;
        public ulong InUse => UordBlks;
        /// <summary>Bytes in free chunks glibc keeps inside its heaps (freed but not given back: fragmentation when it grows).</summary>
        public ulong FreeKept => FordBlks;
        /// <summary>Bytes in chunks glibc mmap'ed on their own (returned to the system when freed).</summary>
        public ulong Mapped => HBlkHd;
    }
}
