// Loads libtorch once, with a clear error when it cannot, and parses the device/dtype options every component shares.
using System.Reflection;
using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace UViT.MLNet.Core.Runtime;

/// <summary>Thrown when the native libtorch backend cannot be loaded; the message says why and how to fix it.</summary>
public sealed class TorchRuntimeException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// Process-wide libtorch start-up. Call <see cref="EnsureLoaded"/> (every public entry point of this library does) before
/// any tensor work: it loads the application's libtorch first (<see cref="LibTorchPreload"/>: a system libtorch cannot
/// shadow it, and TorchSharp's glue is patched at run time where the build could not), installs the
/// <see cref="ScriptHostLoading"/> fallbacks (notebooks), and turns TorchSharp's load failure into an actionable message:
/// the backend packages to add when there is no libtorch at all. Before the first load it sets <see cref="OpenMpDefaults"/>
/// (passive OpenMP waiting, threads = physical cores) so that libtorch does not collapse on a busy machine.
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
            OpenMpDefaults.Apply();   // before libgomp loads with libtorch: it reads the environment once
            LibTorchPreload.Run(LibTorchVersion);
            try
            {
                torch.InitializeDeviceType(device);
            }
            catch (Exception e)
            {
                throw new TorchRuntimeException(LoadFailureMessage(device, e), e);
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
        if (type == DeviceType.CUDA && !torch.cuda.is_available()) throw new TorchRuntimeException(CudaUnavailableMessage(name!));
        return torch.device(text);
    }

    /// <summary>The one line for a CUDA device asked of a build or machine without it.</summary>
    private static string CudaUnavailableMessage(string name) =>
        $"Device '{name}' was requested but CUDA is not available. Use a CUDA backend - the package TorchSharp-cuda-linux or " +
        $"TorchSharp-cuda-windows {TorchSharpVersion} in an application, -p:TorchBackend=cuda-linux (or cuda-windows) in this " +
        "repository - on a machine with an NVIDIA driver, or use --device cpu.";

    /// <summary>Parses "float32"/"fp32", "float16"/"fp16", "bfloat16"/"bf16", "float64" into a scalar type.</summary>
    public static ScalarType ParseDType(string? name) => (name ?? "float32").Trim().ToLowerInvariant() switch
    {
        "float32" or "fp32" or "float" => ScalarType.Float32,
        "float16" or "fp16" or "half" => ScalarType.Float16,
        "bfloat16" or "bf16" => ScalarType.BFloat16,
        "float64" or "fp64" or "double" => ScalarType.Float64,
        _ => throw new ArgumentException($"Unknown dtype '{name}'. Use float32, float16, bfloat16 or float64.", nameof(name)),
    };

    /// <summary>The libtorch release of the backend packages that match this TorchSharp (from Directory.Packages.props).</summary>
    public static string LibTorchVersion { get; } = BuildMetadata("LibTorchVersion");

    /// <summary>The TorchSharp release this library is built against (its CUDA and all-platform packages share it).</summary>
    public static string TorchSharpVersion { get; } = BuildMetadata("TorchSharpVersion");

    // Versions stamped into this assembly at build time (UViT.MLNet.Core.csproj), so the packages' versions live in one place.
    private static string BuildMetadata(string key) =>
        typeof(TorchRuntime).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().FirstOrDefault(a => a.Key == key)?.Value ?? "(unknown)";

    /// <summary>The CPU backend package for the running platform, e.g. "libtorch-cpu-linux-x64".</summary>
    public static string CpuBackendPackage => "libtorch-cpu-" + (RuntimeInformation.IsOSPlatform(OSPlatform.Windows) ? "win" : RuntimeInformation.IsOSPlatform(OSPlatform.OSX) ? "osx" : "linux")
                                              + "-" + RuntimeInformation.ProcessArchitecture.ToString().ToLowerInvariant();

    /// <summary>
    /// The message for an application that has no libtorch at all: the library references TorchSharp only, and the backend
    /// is one package the application adds (as with ML.NET's TorchSharp trainers).
    /// </summary>
    public static string MissingBackendMessage(IEnumerable<string> searched) =>
        "No libtorch backend was found: UViT.MLNet runs on TorchSharp, whose native libtorch comes from one package that the " +
        $"application adds. For this machine: `dotnet add package {CpuBackendPackage} --version {LibTorchVersion}`. The choices: " +
        $"libtorch-cpu-linux-x64, libtorch-cpu-win-x64 or libtorch-cpu-osx-arm64 {LibTorchVersion} (CPU, one platform), " +
        $"TorchSharp-cpu {TorchSharpVersion} (CPU, all three platforms), TorchSharp-cuda-linux or TorchSharp-cuda-windows " +
        $"{TorchSharpVersion} (NVIDIA GPUs). Searched: {string.Join(", ", searched)}.";

    // The libtorch library every backend package has (torch_cpu), and the one only CUDA backends have, per platform's naming.
    private static readonly string[] CpuLibraries = ["libtorch_cpu.so", "torch_cpu.dll", "libtorch_cpu.dylib"];
    private static readonly string[] CudaLibraries = ["libtorch_cuda.so", "torch_cuda.dll"];

    /// <summary>Whether any of <paramref name="libraries"/> sits in one of <paramref name="folders"/>.</summary>
    private static bool AnyPresent(IEnumerable<string> folders, string[] libraries) =>
        folders.Any(folder => libraries.Any(file => File.Exists(Path.Combine(folder, file))));

    /// <summary>
    /// Why libtorch could not be loaded and what to do: the backend packages when there is no libtorch at all, else the
    /// checks to make. For callers that met the failure outside <see cref="EnsureLoaded"/> (TorchSharp's type initializer).
    /// </summary>
    public static string LoadFailureMessage(DeviceType device, Exception e)
    {
        var folders = LibTorchPreload.LibTorchFolders(LibTorchVersion);
        if (!AnyPresent(folders, CpuLibraries)) return MissingBackendMessage(folders);
        if (device == DeviceType.CUDA && !AnyPresent(folders, CudaLibraries))
            return CudaUnavailableMessage("cuda") + $" (This application's libtorch is a CPU build: no libtorch_cuda in {string.Join(", ", folders)}.)";
        string detail = e.Message + (e.InnerException is null ? "" : " / " + e.InnerException.Message);
        return $"libtorch could not be loaded for {device}: {detail}{Environment.NewLine}" +
               "Check that: (1) the application was built with `dotnet build`/`dotnet publish` so that runtimes/<rid>/native " +
               "holds libtorch and libLibTorchSharp.so; (2) on Debian 12 and other distributions with libstdc++ older than " +
               "GLIBCXX_3.4.32, the build step 'PatchLibTorchSharpInOutput' ran (it marks that version need weak; run " +
               "`readelf -V libLibTorchSharp.so` and look for 'Flags: WEAK' on GLIBCXX_3.4.32); (3) the backend package matches " +
               "the device (a libtorch-cpu-* package or TorchSharp-cpu for the CPU, TorchSharp-cuda-* for CUDA).";
    }
}
