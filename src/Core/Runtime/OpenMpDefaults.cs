// Protects libtorch's OpenMP threads from a busy machine without slowing them much on a quiet one. libgomp's default lets an
// idle worker thread spin for ~300,000 iterations before it sleeps; with two libtorch processes (or a build) on 2 cores the
// spinning threads starve the working ones (two MNIST generation processes: 3.7-6.8 images/s each against 31 alone).
// Sleeping at once (OMP_WAIT_POLICY=PASSIVE) fixes that but costs a quiet machine 29-41% at the MNIST default's small
// operations, where every parallel region then waits for a kernel wake-up. A short spin (GOMP_SPINCOUNT=3000) is the
// measured compromise on 2 cores: 28-31 images/s alone, 13.5-13.9 each side by side, training within 5% of libgomp's
// default (docs/how-to/threads.md, docs/benchmarks.md "Contention"); no setting met both a 5% solo cost and 40% of the
// solo speed in a pair. libgomp reads these once, when it is loaded with libtorch, so they must be in the native process
// environment before that first dlopen. .NET's Environment.SetEnvironmentVariable does not write the native environment
// on Unix (it keeps a managed copy), so this calls libc's setenv.
using System.Runtime.InteropServices;

namespace UViT.MLNet.Core.Runtime;

/// <summary>
/// Sets a short OpenMP spin before idle threads sleep (<c>GOMP_SPINCOUNT=3000</c> on Linux's libgomp; <c>OMP_WAIT_POLICY=PASSIVE</c>
/// on macOS, whose libomp has no spin count of that name) and <c>OMP_NUM_THREADS</c> = physical cores before libtorch loads,
/// unless the user set them; <c>UVIT_OMP_DEFAULTS=off</c> leaves the environment alone (docs/how-to/threads.md).
/// </summary>
public static class OpenMpDefaults
{
    /// <summary>The variable that switches the defaults off ("off", "0" or "false").</summary>
    public const string OptOutVariable = "UVIT_OMP_DEFAULTS";

    /// <summary>libgomp spin iterations before an idle thread sleeps: long enough to bridge the gap between two small operations,
    /// short enough to give the core away when another process needs it (measured 1,000-100,000 on 2 cores: see the file comment).</summary>
    public const int SpinCount = 3000;

    /// <summary>What <see cref="Apply"/> did, for benchmark lines: e.g. "GOMP_SPINCOUNT=3000 (set), OMP_NUM_THREADS=2 (set)".</summary>
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
            Description = $"off ({OptOutVariable}={optOut}); OMP_WAIT_POLICY={NativeGet("OMP_WAIT_POLICY") ?? "(unset)"}, " +
                          $"GOMP_SPINCOUNT={NativeGet("GOMP_SPINCOUNT") ?? "(unset)"}, OMP_NUM_THREADS={NativeGet("OMP_NUM_THREADS") ?? "(unset)"}";
            return;
        }
        Description = string.Join(", ", ApplyWaiting(), SetUnlessPresent("OMP_NUM_THREADS", PhysicalCores().ToString()));
    }

    // How idle threads wait. A user's OMP_WAIT_POLICY or GOMP_SPINCOUNT wins (libgomp lets GOMP_SPINCOUNT override the policy).
    private static string ApplyWaiting()
    {
        if (!RuntimeInformation.IsOSPlatform(OSPlatform.Linux)) return SetUnlessPresent("OMP_WAIT_POLICY", "PASSIVE");
        if (NativeGet("OMP_WAIT_POLICY") is { Length: > 0 } policy) return $"OMP_WAIT_POLICY={policy} (user's)";
        return SetUnlessPresent("GOMP_SPINCOUNT", SpinCount.ToString());
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
