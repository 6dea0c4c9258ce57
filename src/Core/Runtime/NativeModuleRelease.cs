// TorchSharp 0.107's built-in modules (Linear, LayerNorm, Conv2d, Embedding, Dropout, ...) override Dispose(bool) without
// calling the base, so disposing them frees their weights but not their native torch::nn::Module: it waits for the
// SafeHandle finalizer, and in a process whose managed heap is small the collector rarely runs - a service that reloads
// models, or the soak benchmark, grew by ~0.1 MB per network built (measured with heaptrack: the leaked blocks were the
// native CustomModule objects allocated in THSNN_custom_module). Releasing the two native handles of every module of a
// network when the network is disposed frees them at once. TorchSharp keeps these handles internal, hence reflection; if a
// later TorchSharp renames them this does nothing and NativeModuleReleaseTests fails, so an upgrade is noticed.
using System.Reflection;
using TorchSharp;

namespace UViT.MLNet.Core.Runtime;

/// <summary>Frees the native modules of a disposed TorchSharp network without waiting for finalizers.</summary>
public static class NativeModuleRelease
{
    private const BindingFlags Internal = BindingFlags.Instance | BindingFlags.NonPublic;
    private static readonly FieldInfo? NativeHandle = typeof(torch.nn.Module).GetField("handle", Internal);
    private static readonly FieldInfo? BoxedHandle = typeof(torch.nn.Module).GetField("boxedModule", Internal);

    /// <summary>Whether this TorchSharp exposes the handles this class releases (false: a TorchSharp this code does not know).</summary>
    public static bool IsSupported => NativeHandle is not null && BoxedHandle is not null;

    /// <summary>
    /// Disposes <paramref name="root"/> through <paramref name="disposeRoot"/> (the network's base Dispose), then releases
    /// the native module of the root and of every module under it. Call from a network's Dispose(bool) override.
    /// </summary>
    public static void Dispose(torch.nn.Module root, Action disposeRoot)
    {
        var tree = root.modules().Prepend(root).ToList();   // collected first: a disposed module no longer lists its children
        disposeRoot();
        if (!IsSupported) return;
        foreach (var module in tree)
        {
            (NativeHandle!.GetValue(module) as IDisposable)?.Dispose();
            (BoxedHandle!.GetValue(module) as IDisposable)?.Dispose();
        }
    }

    /// <summary>Whether <paramref name="module"/>'s native module has been released (for tests).</summary>
    public static bool IsReleased(torch.nn.Module module) =>
        NativeHandle?.GetValue(module) is System.Runtime.InteropServices.SafeHandle handle && (handle.IsInvalid || handle.IsClosed);
}
