// Training-from-scratch initialisation follows the official _init_weights (reference.md section 1).
using TorchSharp.Modules;
using UViT.MLNet.Core.Networks;
using UViT.MLNet.Tests.Support;
using static TorchSharp.torch;

namespace UViT.MLNet.Tests.Networks;

[TestClass]
public sealed class UViTInitializationTests
{
    [TestMethod]
    public void LinearWeightsAndPosEmbedAreNormal002BiasesZeroNormsIdentity()
    {
        var config = new UViTConfig { ImageSize = 16, PatchSize = 2, EmbedDim = 64, Depth = 4, NumHeads = 2, NumClasses = 10 };
        using var model = new UViTNetwork(config, seed: 1);
        var state = model.state_dict();
        foreach (var (key, value) in state)
        {
            bool linearWeight = key.EndsWith(".weight") && value.dim() == 2 && !key.StartsWith("label_emb");
            if (key == "pos_embed" || linearWeight)
            {
                double std = value.std().item<float>(), mean = value.mean().item<float>();
                Assert.IsLessThan(0.02 * 0.15, Math.Abs(std - 0.02), $"{key}: std {std}");
                Assert.IsLessThan(0.004, Math.Abs(mean), $"{key}: mean {mean}");
            }
        }
        foreach (var (name, module) in model.named_modules())
        {
            if (module is Linear { bias: not null } linear) Assert.AreEqual(0f, linear.bias.abs().max().item<float>(), $"{name}.bias");
            if (module is LayerNorm norm)
            {
                Assert.IsTrue(norm.weight!.eq(1).all().item<bool>(), $"{name}.weight");
                Assert.IsTrue(norm.bias!.eq(0).all().item<bool>(), $"{name}.bias");
            }
        }
        // The embedding keeps PyTorch's N(0, 1) default.
        Assert.IsGreaterThan(0.8, state["label_emb.weight"].std().item<float>());
    }

    [TestMethod]
    public void SameSeedGivesSameWeights()
    {
        var config = new UViTConfig { ImageSize = 8, PatchSize = 2, EmbedDim = 16, Depth = 2, NumHeads = 2 };
        using var a = new UViTNetwork(config, seed: 7);
        using var b = new UViTNetwork(config, seed: 7);
        Assert.IsTrue(Fixtures.Identical(a.state_dict()["pos_embed"], b.state_dict()["pos_embed"]));
        Assert.IsTrue(Fixtures.Identical(a.state_dict()["in_blocks.0.attn.qkv.weight"], b.state_dict()["in_blocks.0.attn.qkv.weight"]));
    }
}
