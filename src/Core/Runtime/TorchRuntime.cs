// Loads libtorch once, with a clear error when it cannot, and parses the device/dtype options every component shares.
using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace UViT.MLNet.Core.Runtime;

/// <summary>Thrown when the native libtorch backend cannot be loaded; the message says why and how to fix it.</summary>
public sealed class TorchRuntimeException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// Process-wide libtorch start-up. Call <see cref="EnsureLoaded"/> (every public entry point of this library does) before
/// any tensor work: it loads the libtorch that ships next to the application first (so a system libtorch, e.g. Debian's
/// python3-torch, cannot shadow it), installs the <see cref="ScriptHostLoading"/> fallbacks (notebooks), and turns
/// TorchSharp's terse load failure into an actionable message.
/// </summary>
public static class TorchRuntime
{
    private static readonly Lock Gate = new();
    private static readonly HashSet<DeviceType> Loaded = [];

    /// <summary>Loads libtorch for the CPU (and CUDA when <paramref name="device"/> asks for it); idempotent.</summary>
    public static void EnsureLoaded(DeviceType device = DeviceType.CPU)
    {
        lock (Gate)
        {
            if (Loaded.Contains(device)) return;
            ScriptHostLoading.Install();
            PreloadBundledLibTorch();
            try
            {
                torch.InitializeDeviceType(device);
            }
            catch (Exception e)
            {
                throw new TorchRuntimeException(Explain(device, e), e);
            }
            Loaded.Add(device);
        }
    }

    /// <summary>Parses "cpu", "cuda" or "cuda:N" into a device, loading the backend it needs.</summary>
    public static Device ParseDevice(string? name)
    {
        string text = string.IsNullOrWhiteSpace(name) ? "cpu" : name.Trim().ToLowerInvariant();
        if (text != "cpu" && !text.StartsWith("cuda", StringComparison.Ordinal))
            throw new ArgumentException($"Unknown device '{name}'. Use 'cpu', 'cuda' or 'cuda:N'.", nameof(name));
        var type = text == "cpu" ? DeviceType.CPU : DeviceType.CUDA;
        EnsureLoaded(type);
        if (type == DeviceType.CUDA && !torch.cuda.is_available())
            throw new TorchRuntimeException(
                $"Device '{name}' was requested but CUDA is not available. Build with -p:TorchBackend=cuda-linux " +
                "(or cuda-windows) on a machine with an NVIDIA driver, or use --device cpu.");
        return torch.device(text);
    }

    /// <summary>Parses "float32"/"fp32", "float16"/"fp16", "bfloat16"/"bf16", "float64" into a scalar type.</summary>
    public static ScalarType ParseDType(string? name) => (name ?? "float32").Trim().ToLowerInvariant() switch
    {
        "float32" or "fp32" or "float" => ScalarType.Float32,
        "float16" or "fp16" or "half" => ScalarType.Float16,
        "bfloat16" or "bf16" => ScalarType.BFloat16,
        "float64" or "fp64" or "double" => ScalarType.Float64,
        _ => throw new ArgumentException($"Unknown dtype '{name}'. Use float32, float16, bfloat16 or float64.", nameof(name)),
    };

    // TorchSharp resolves libtorch and its glue libLibTorchSharp by name; loading our bundled copies by full path first makes
    // those names resolve to them. Searched next to the application (AppContext.BaseDirectory), then next to TorchSharp.dll
    // and this assembly: a notebook kernel or script host has its own base directory and no deps.json pointing at ours.
    private static void PreloadBundledLibTorch()
    {
        if (!RuntimeInformation.IsOSPlatform(OSPlatform.Linux)) return;
        string rid = RuntimeInformation.ProcessArchitecture == Architecture.Arm64 ? "linux-arm64" : "linux-x64";
        string?[] roots = [AppContext.BaseDirectory, Path.GetDirectoryName(typeof(torch).Assembly.Location), Path.GetDirectoryName(typeof(TorchRuntime).Assembly.Location)];
        foreach (string root in roots.OfType<string>().Where(r => r.Length > 0).Distinct())
        {
            foreach (string folder in new[] { root, Path.Combine(root, "runtimes", rid, "native") })
            {
                string candidate = Path.Combine(folder, "libtorch.so");
                if (!File.Exists(candidate) || !NativeLibrary.TryLoad(candidate, out _)) continue;
                string glue = Path.Combine(folder, "libLibTorchSharp.so");
                if (File.Exists(glue)) NativeLibrary.TryLoad(glue, out _);   // a failure here is explained by InitializeDeviceType
                return;
            }
        }
    }

    private static string Explain(DeviceType device, Exception e)
    {
        string detail = e.Message + (e.InnerException is null ? "" : " / " + e.InnerException.Message);
        return $"libtorch could not be loaded for {device}: {detail}{Environment.NewLine}" +
               "Check that: (1) the application was built with `dotnet build`/`dotnet publish` so that runtimes/<rid>/native " +
               "holds libtorch and libLibTorchSharp.so; (2) on Debian 12 and other distributions with libstdc++ older than " +
               "GLIBCXX_3.4.32, the build step 'PatchLibTorchSharpInOutput' ran (it marks that version need weak; run " +
               "`readelf -V libLibTorchSharp.so` and look for 'Flags: WEAK' on GLIBCXX_3.4.32); (3) the TorchBackend build " +
               "property matches the device (cpu, cuda-linux, cuda-windows).";
    }
}
