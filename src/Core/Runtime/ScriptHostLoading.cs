// Makes our assemblies work when a script host - a notebook kernel (#r "...dll"), dotnet-repl - loads them by path.
// An application resolves its dependencies through its deps.json; a script host has none for ours, so:
//  * native libraries (libSkiaSharp, ML.NET's natives) are looked up only in the assembly's own folder, not in the
//    runtimes/<rid>/native folder where the build puts them: the first SkiaSharp call fails with DllNotFoundException;
//  * Roslyn's script loader gives every assembly loaded from a file a load context of its own and does not unify versions:
//    TorchSharp.PyBridge references TorchSharp 0.103, so it gets a second copy of TorchSharp.dll (0.107) whose Tensor type
//    differs from ours, and the first checkpoint or model-zip save fails with MissingMethodException.
// Install() adds a fallback for both; in an ordinary application neither fallback is ever reached.
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Loader;

namespace UViT.MLNet.Core.Runtime;

/// <summary>Assembly and native-library fallbacks for script hosts (notebooks) that load UViT.MLNet by path.</summary>
public static class ScriptHostLoading
{
    private static readonly Lock Gate = new();
    private static readonly ConditionalWeakTable<AssemblyLoadContext, object> Hooked = new();
    private static bool _installed;

    /// <summary>
    /// Installs the fallbacks (idempotent). <see cref="TorchRuntime.EnsureLoaded"/> and <c>mlContext.RegisterUViT()</c> call it;
    /// a notebook should reach one of them before its first SkiaSharp or checkpoint call.
    /// </summary>
    public static void Install()
    {
        lock (Gate)
        {
            if (_installed) return;
            // Script load contexts ask the default context (and its Resolving event) before their own resolver.
            AssemblyLoadContext.Default.Resolving += (_, requested) => LoadedCopyOf(requested);
            AppDomain.CurrentDomain.AssemblyLoad += (_, e) => HookNativeFallback(AssemblyLoadContext.GetLoadContext(e.LoadedAssembly));
            foreach (var context in AssemblyLoadContext.All) HookNativeFallback(context);
            _installed = true;
        }
    }

    // ------------------------------------------------------------------------------------------------ managed assemblies

    /// <summary>An already loaded assembly of the requested name and public key, at the requested version or higher.</summary>
    private static Assembly? LoadedCopyOf(AssemblyName requested)
    {
        Assembly? best = null;
        Version? bestVersion = null;
        byte[] requestedToken = requested.GetPublicKeyToken() ?? [];
        foreach (var assembly in AppDomain.CurrentDomain.GetAssemblies())
        {
            var name = assembly.GetName();
            if (!string.Equals(name.Name, requested.Name, StringComparison.OrdinalIgnoreCase)) continue;
            if (!(name.GetPublicKeyToken() ?? []).AsSpan().SequenceEqual(requestedToken)) continue;
            if (requested.Version is not null && name.Version < requested.Version) continue;
            if (best is null || bestVersion < name.Version) (best, bestVersion) = (assembly, name.Version);
        }
        return best;
    }

    // ------------------------------------------------------------------------------------------------ native libraries

    private static void HookNativeFallback(AssemblyLoadContext? context)
    {
        if (context is null) return;
        lock (Hooked)
        {
            if (Hooked.TryGetValue(context, out _)) return;
            context.ResolvingUnmanagedDll += ResolveNative;
            Hooked.Add(context, new object());
        }
    }

    // Called only after the runtime's own probing failed: TorchSharp's glue is the patched copy LibTorchPreload loaded, if any;
    // anything else is looked up in runtimes/<rid>/native beside the requesting assembly.
    private static IntPtr ResolveNative(Assembly assembly, string name)
    {
        if (LibTorchPreload.PatchedGlue != IntPtr.Zero && name is "LibTorchSharp" or "libLibTorchSharp" or "libLibTorchSharp.so")
            return LibTorchPreload.PatchedGlue;
        string? folder = string.IsNullOrEmpty(assembly.Location) ? null : Path.GetDirectoryName(assembly.Location);
        if (folder is null) return IntPtr.Zero;
        string native = Path.Combine(folder, "runtimes", RuntimeInformation.RuntimeIdentifier, "native");
        if (!Directory.Exists(native)) return IntPtr.Zero;
        foreach (string file in new[] { name, $"lib{name}.so", $"{name}.so", $"{name}.dll", $"lib{name}.dylib", $"{name}.dylib" })
        {
            string path = Path.Combine(native, file);
            if (File.Exists(path) && NativeLibrary.TryLoad(path, out IntPtr handle)) return handle;
        }
        return IntPtr.Zero;
    }
}
