using TorchSharp;
using UViT.MLNet.Core.Runtime;

namespace UViT.MLNet.Tests.Support;

[TestClass]
public static class TestSetup
{
    /// <summary>Loads libtorch once and keeps its thread pool small (2-core CI machines; see docs/design-decisions.md).</summary>
    [AssemblyInitialize]
    public static void Initialize(TestContext _)
    {
        TorchRuntime.EnsureLoaded();
        torch.set_num_threads(Math.Min(2, Environment.ProcessorCount));
    }
}
