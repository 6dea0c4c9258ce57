// Building and disposing a network must leave no tensor handle behind: TorchSharp 0.107's Conv2d and Embedding
// constructors and Embedding.weight hand out stray handles, which piled up in long-running processes (the soak benchmark:
// 18 per cycle). ModuleConstruction and a scope in InitializeForTraining release them.
using TorchSharp;
using UViT.MLNet.Core.Autoencoder;
using UViT.MLNet.Core.Evaluation;
using UViT.MLNet.Core.Networks;
using UViT.MLNet.Core.Runtime;
using UViT.MLNet.Core.Text;

namespace UViT.MLNet.Tests.Networks;

[TestClass]
public sealed class ConstructionLeakTests
{
    private static readonly UViTConfig Small = new() { ImageSize = 28, PatchSize = 7, InChannels = 1, EmbedDim = 64, Depth = 4, NumHeads = 4, NumClasses = 11 };

    [TestMethod]
    public void BuildingAndDisposingNetworksLeavesNoTensorHandles()
    {
        TorchRuntime.EnsureLoaded();
        var builds = new (string Name, Func<IDisposable> Build)[]
        {
            ("class U-ViT, seeded", () => new UViTNetwork(Small, seed: 0)),
            ("class U-ViT, global generator", () => new UViTNetwork(Small)),
            ("class U-ViT on the meta device", () => new UViTNetwork(Small, device: torch.META)),
            ("unconditional U-ViT without the conv", () => new UViTNetwork(Small with { NumClasses = 0, Conv = false }, seed: 1)),
            ("text U-ViT", () => new UViTNetwork(Small with { NumClasses = 0, ClipDim = 32, NumClipTokens = 5 }, seed: 2)),
            ("KL autoencoder", () => new AutoencoderKL(new AutoencoderKLConfig { Ch = 32, ChMult = [1, 2], NumResBlocks = 1 })),
            ("CLIP text model", () => new ClipTextModel(new ClipTextConfig(VocabSize: 100, HiddenSize: 32, NumHiddenLayers: 1, NumAttentionHeads: 2, IntermediateSize: 64, MaxPositionEmbeddings: 8))),
        };
        foreach (var (name, build) in builds)
        {
            build().Dispose();   // first build: one-time caches
            long before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
            for (int i = 0; i < 3; i++) build().Dispose();
            Assert.AreEqual(0, DisposeScopeManager.Statistics.ThreadTotalLiveCount - before, $"{name}: tensor handles left behind by 3 builds");
        }
    }

    /// <summary>
    /// Disposing a network frees the native module of every layer at once: TorchSharp 0.107's Linear, LayerNorm, Conv2d and
    /// Embedding skip the base Dispose, so without <see cref="NativeModuleRelease"/> theirs waited for a finalizer (about
    /// 0.1 MB per network in the soak benchmark).
    /// </summary>
    [TestMethod]
    public void DisposingANetworkReleasesTheNativeModuleOfEveryLayer()
    {
        TorchRuntime.EnsureLoaded();
        Assert.IsTrue(NativeModuleRelease.IsSupported, "This TorchSharp no longer has the internal module handles NativeModuleRelease frees: check whether its modules still skip the base Dispose.");
        var builds = new (string Name, Func<torch.nn.Module> Build)[]
        {
            ("class U-ViT", () => new UViTNetwork(Small, seed: 0)),
            ("text U-ViT without the conv", () => new UViTNetwork(Small with { NumClasses = 0, Conv = false, ClipDim = 32, NumClipTokens = 5 }, seed: 2)),
            ("KL autoencoder", () => new AutoencoderKL(new AutoencoderKLConfig { Ch = 32, ChMult = [1, 2], NumResBlocks = 1 })),
            ("CLIP text model", () => new ClipTextModel(new ClipTextConfig(VocabSize: 100, HiddenSize: 32, NumHiddenLayers: 1, NumAttentionHeads: 2, IntermediateSize: 64, MaxPositionEmbeddings: 8))),
            ("digit judge", () => new DigitJudge()),
        };
        foreach (var (name, build) in builds)
        {
            var network = build();
            var layers = network.named_modules().ToList();
            Assert.IsTrue(layers.Count > 5, $"{name}: expected a tree of layers");
            network.Dispose();
            var kept = layers.Where(l => !NativeModuleRelease.IsReleased(l.module)).Select(l => $"{l.name} ({l.module.GetType().Name})").ToList();
            Assert.AreEqual(0, kept.Count, $"{name}: native modules still held after Dispose: {string.Join(", ", kept.Take(8))}");
        }
    }
}
