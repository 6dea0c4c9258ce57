// TorchSharp 0.107's Conv2d constructor leaves one tensor handle undisposed (measured: +1 live tensor per Conv2d, 0 for
// Linear, LayerNorm, Embedding), which keeps a reference to the weight's storage alive after the module is disposed. A process
// that builds networks again and again - a service reloading models, the soak benchmark - grew by about 9 KB per U-ViT
// built until the finalizer ran (issue #18's soak). Building inside a dispose scope that keeps only the module's parameters
// and buffers releases the stray handle at once.
using TorchSharp;
using static TorchSharp.torch;

namespace UViT.MLNet.Core.Runtime;

/// <summary>Builds TorchSharp modules without the handles their constructors leave behind.</summary>
public static class ModuleConstruction
{
    /// <summary>Runs <paramref name="build"/> in a dispose scope and disposes every tensor it made except the module's own.</summary>
    public static T Build<T>(Func<T> build) where T : nn.Module
    {
        using var scope = NewDisposeScope();
        T module = build();
        scope.Detach(module.parameters());
        scope.Detach(module.buffers());
        return module;
    }
}
