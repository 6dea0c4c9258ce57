// Protects libtorch's OpenMP threads from a busy machine. libgomp's default lets idle worker threads spin; with two libtorch
// processes (or a build) on 2 cores the spinning threads starve the working ones and a generation run took 23x longer
// (docs/benchmarks.md, "Contention"). libgomp reads OMP_WAIT_POLICY and OMP_NUM_THREADS with getenv() once, when it is
// loaded with libtorch, so they must be in the native process environment before that first dlopen. .NET's
// Environment.SetEnvironmentVariable does not write the native environment on Unix (it keeps a managed copy), so this
// calls libc's setenv.
using System.Runtime.InteropServices;

namespace UViT.MLNet.Core.Runtime;

/// <summary>
/// Sets <c>OMP_WAIT_POLICY=PASSIVE</c> and <c>OMP_NUM_THREADS</c> = physical cores before libtorch loads, unless the user
/// set them; <c>UVIT_OMP_DEFAULTS=off</c> leaves the environment alone (docs/how-to/threads.md).
/// </summary>
public static class OpenMpDefaults
{
    /// <summary>The variable that switches the defaults off ("off", "0" or "false").</summary>
    public const string OptOutVariable = "UVIT_OMP_DEFAULTS";

    /// <summary>What <see cref="Apply"/> did, for benchmark lines: e.g. "OMP_WAIT_POLICY=PASSIVE (set), OMP_NUM_THREADS=2 (set)".</summary>
    public static string Description { get; private set; } = "not applied";

    /// <summary>Sets the defaults in the native environment (Linux and macOS; idempotent). Has effect only before libtorch loads.</summary>
    public static void Apply()
    {
        if (Description != "not applied") return;
        if (!(RuntimeInformation.IsOSPlatform(OSPlatform.Linux) || RuntimeInformation.IsOSPlatform(OSPlatform.OSX)))
        {
            Description = "not applied (Windows: libtorch uses its own OpenMP runtime)";
            return;
        }
        string? optOut = NativeGet(OptOutVariable);
        if (optOut is not null && optOut.Trim().ToLowerInvariant() is "off" or "0" or "false")
        {
            Description = $"off ({OptOutVariable}={optOut}); OMP_WAIT_POLICY={NativeGet("OMP_WAIT_POLICY") ?? "(unset)"}, OMP_NUM_THREADS={NativeGet("OMP_NUM_THREADS") ?? "(unset)"}";
            return;
        }
        Description = string.Join(", ", SetUnlessPresent("OMP_WAIT_POLICY", "PASSIVE"), SetUnlessPresent("OMP_NUM_THREADS", PhysicalCores().ToString()));
    }

    /// <summary>Cores without their hyper-thread siblings (distinct physical id / core id pairs), at most the CPUs this process may use.</summary>
    public static int PhysicalCores()
    {
        int logical = Environment.ProcessorCount;   // respects affinity masks and cgroup quotas
        try
        {
            string physical = "0";
            var cores = new HashSet<string>();
            foreach (string line in File.ReadLines("/proc/cpuinfo"))
            {
                if (line.StartsWith("physical id", StringComparison.Ordinal)) physical = line.Split(':', 2)[1].Trim();
                else if (line.StartsWith("core id", StringComparison.Ordinal)) cores.Add(physical + "/" + line.Split(':', 2)[1].Trim());
            }
            return cores.Count == 0 ? logical : Math.Clamp(cores.Count, 1, logical);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return logical;
        }
    }

    private static string SetUnlessPresent(string name, string value)
    {
        string? present = NativeGet(name);
        if (!string.IsNullOrEmpty(present)) return $"{name}={present} (user's)";
        return SetEnv(name, value, 0) == 0 ? $"{name}={value} (set)" : $"{name} (setenv failed)";
    }

    private static string? NativeGet(string name) => Marshal.PtrToStringUTF8(GetEnv(name));

    [DllImport("libc", EntryPoint = "setenv")]
    private static extern int SetEnv([MarshalAs(UnmanagedType.LPUTF8Str)] string name, [MarshalAs(UnmanagedType.LPUTF8Str)] string value, int overwrite);

    [DllImport("libc", EntryPoint = "getenv")]
    private static extern IntPtr GetEnv([MarshalAs(UnmanagedType.LPUTF8Str)] string name);
}
