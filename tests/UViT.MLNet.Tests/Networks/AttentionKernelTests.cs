// The default attention choice: plain math for short sequences on a CPU (faster there), the fused kernel for long ones.
using UViT.MLNet.Core.Networks;
using static TorchSharp.torch;

namespace UViT.MLNet.Tests.Networks;

[TestClass]
public sealed class AttentionKernelTests
{
    [TestMethod]
    public void AutoPicksByTokenCountOnTheCpu()
    {
        var mnistDefault = new UViTConfig { ImageSize = 28, PatchSize = 7, InChannels = 1, EmbedDim = 32, Depth = 2, NumHeads = 2, NumClasses = 11 };   // 18 tokens
        var cifarSmall = UViTPresets.Get("cifar10_uvit_small").Config;                                                                              // 257 tokens
        Assert.AreEqual(18, mnistDefault.TokenCount);
        Assert.IsFalse(AttentionKernels.UseFused(AttentionKernel.Auto, mnistDefault, CPU));
        Assert.IsTrue(AttentionKernels.UseFused(AttentionKernel.Auto, cifarSmall, CPU));
        Assert.IsTrue(AttentionKernels.UseFused(AttentionKernel.Fused, mnistDefault, CPU));
        Assert.IsFalse(AttentionKernels.UseFused(AttentionKernel.Plain, cifarSmall, CPU));
    }
}
