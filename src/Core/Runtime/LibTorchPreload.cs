// Finds the application's libtorch and TorchSharp's native glue and loads them by full path before TorchSharp looks for them
// by name, so that those names resolve to them (a system libtorch, e.g. Debian's python3-torch, cannot shadow ours), and
// patches the glue at run time where the build could not (docs/design-decisions.md, "The libstdc++ fix").
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using TorchSharp;
using UViT.MLNet.Build;

namespace UViT.MLNet.Core.Runtime;

/// <summary>Loads libtorch and libLibTorchSharp by full path (Linux); the run-time half of the Debian 12 fix.</summary>
internal static class LibTorchPreload
{
    private const string Glue = "libLibTorchSharp.so";

    /// <summary>
    /// The handle of a patched copy of the glue loaded by <see cref="Run"/>, or zero. <see cref="ScriptHostLoading"/> answers
    /// TorchSharp's look-up of "LibTorchSharp" with it once the runtime's own probing has failed on the unpatched file.
    /// </summary>
    public static IntPtr PatchedGlue { get; private set; }

    /// <summary>
    /// The folders an application's native libtorch can be in: next to it, its runtimes/&lt;rid&gt;/native, next to
    /// TorchSharp.dll and this assembly (script hosts have their own base directory and no deps.json for ours).
    /// </summary>
    public static List<string> ApplicationFolders()
    {
        string?[] roots = [AppContext.BaseDirectory, Path.GetDirectoryName(typeof(torch).Assembly.Location), Path.GetDirectoryName(typeof(LibTorchPreload).Assembly.Location)];
        return roots.OfType<string>().Where(r => r.Length > 0).Distinct()
            .SelectMany(root => new[] { root, Path.Combine(root, "runtimes", RuntimeInformation.RuntimeIdentifier, "native") })
            .Where(Directory.Exists).Distinct().ToList();
    }

    /// <summary>Every folder <see cref="Run"/> looks for libtorch in, in order (for error messages).</summary>
    public static List<string> LibTorchFolders(string libTorchVersion) => Candidates(libTorchVersion).Select(c => c.LibTorch).Distinct().ToList();

    /// <summary>Loads libtorch and the glue from the first place that has them; does nothing off Linux or when none does.</summary>
    public static void Run(string libTorchVersion)
    {
        if (!RuntimeInformation.IsOSPlatform(OSPlatform.Linux)) return;
        foreach (var (libTorchFolder, glueFolder) in Candidates(libTorchVersion))
        {
            string libTorch = Path.Combine(libTorchFolder, "libtorch.so");
            if (!File.Exists(libTorch) || !NativeLibrary.TryLoad(libTorch, out _)) continue;
            string glue = Path.Combine(glueFolder, Glue);
            if (File.Exists(glue) && !NativeLibrary.TryLoad(glue, out _)) LoadPatchedCopy(glue);   // other failures: InitializeDeviceType explains
            return;
        }
    }

    // (libtorch folder, glue folder): the application's folders (both in one), then the NuGet packages a script host
    // resolved TorchSharp from: <packages>/torchsharp/<v>/lib/<tfm>/TorchSharp.dll -> <packages>/torchsharp/<v>/runtimes/<rid>/native
    // for the glue, <packages>/libtorch-cpu-<rid>/<libtorch version>/runtimes/<rid>/native for libtorch.
    private static IEnumerable<(string LibTorch, string Glue)> Candidates(string libTorchVersion)
    {
        foreach (string folder in ApplicationFolders()) yield return (folder, folder);
        string rid = RuntimeInformation.RuntimeIdentifier;
        string? torchSharpPackage = Path.GetDirectoryName(Path.GetDirectoryName(Path.GetDirectoryName(typeof(torch).Assembly.Location)));
        string? packageName = Path.GetDirectoryName(torchSharpPackage);
        if (torchSharpPackage is null || packageName is null || !Path.GetFileName(packageName).Equals("torchsharp", StringComparison.OrdinalIgnoreCase))
            yield break;   // an application: TorchSharp.dll sits in its output folder, not in a NuGet package folder
        string packages = Path.GetDirectoryName(packageName)!;
        yield return (Path.Combine(packages, $"libtorch-cpu-{rid}", libTorchVersion, "runtimes", rid, "native"),
                      Path.Combine(torchSharpPackage, "runtimes", rid, "native"));
    }

    // The glue refused to load (Debian 12: GLIBCXX_3.4.32 not found). A copy with the GLIBCXX_3.4.31+ needs marked weak goes
    // into the user's cache folder, named by its hash, and is loaded by full path: its DT_NEEDED libtorch libraries resolve
    // to the ones already loaded above (same sonames).
    private static void LoadPatchedCopy(string glue)
    {
        byte[] elf = File.ReadAllBytes(glue);
        if (GlibcxxVersionNeeds.Weaken(elf) == 0) return;   // not the failure this fixes
        string hash = Convert.ToHexString(SHA256.HashData(elf))[..16].ToLowerInvariant();
        string folder = Path.Combine(CacheRoot(), "UViT.MLNet", "patched-libtorchsharp", hash);
        string path = Path.Combine(folder, Glue);
        if (!File.Exists(path))
        {
            Directory.CreateDirectory(folder);
            string temp = Path.Combine(folder, $"{Glue}.{Environment.ProcessId}.tmp");
            File.WriteAllBytes(temp, elf);
            File.Move(temp, path, overwrite: true);   // another process may have written the same bytes meanwhile
        }
        if (NativeLibrary.TryLoad(path, out IntPtr handle)) PatchedGlue = handle;
    }

    private static string CacheRoot()
    {
        string? xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
        if (!string.IsNullOrEmpty(xdg)) return xdg;
        string home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        return string.IsNullOrEmpty(home) ? Path.GetTempPath() : Path.Combine(home, ".cache");
    }
}
