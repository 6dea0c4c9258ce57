// TorchSharp 0.107's Conv2d and Embedding constructors leave one tensor handle undisposed each (measured: +1 live tensor
// per Conv2d, 0 for Linear and LayerNorm), so a process that builds networks again and again - a service reloading models,
// the soak benchmark - piled up handles (18 per soak cycle, 22,770 after 10 minutes) that only finalizers would release.
// Building inside a dispose scope that keeps only the module's parameters and buffers releases them at once.
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
