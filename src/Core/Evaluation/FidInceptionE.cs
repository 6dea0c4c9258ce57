// Inception block E as the FID network computes it (Mixed_7b and Mixed_7c, on the 8x8 grid).
// Provenance: pytorch-fid inception.py `FIDInceptionE_1` (Mixed_7b: average pool with count_include_pad=False) and
// `FIDInceptionE_2` (Mixed_7c: max pool - a bug in the 2015 TensorFlow graph that the FID weights were trained and measured
// with, reproduced on purpose), both over torchvision's `InceptionE`. U-ViT tools/inception.py is a copy of pytorch-fid's.
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace UViT.MLNet.Core.Evaluation;

/// <summary>Which 3x3 pool the pool branch of an E block uses.</summary>
public enum FidInceptionEPool
{
    /// <summary>FIDInceptionE_1 (Mixed_7b): average excluding padding.</summary>
    Average,
    /// <summary>FIDInceptionE_2 (Mixed_7c): max.</summary>
    Max,
}

/// <summary>Expanded filter bank: 1x1; 1x1 -> (1x3 | 3x1); 1x1 -> 3x3 -> (1x3 | 3x1); pool -> 1x1. Outputs 2048 channels.</summary>
public sealed class FidInceptionE : Module<Tensor, Tensor>
{
    private readonly BasicConv2d branch1x1;
    private readonly BasicConv2d branch3x3_1;
    private readonly BasicConv2d branch3x3_2a;
    private readonly BasicConv2d branch3x3_2b;
    private readonly BasicConv2d branch3x3dbl_1;
    private readonly BasicConv2d branch3x3dbl_2;
    private readonly BasicConv2d branch3x3dbl_3a;
    private readonly BasicConv2d branch3x3dbl_3b;
    private readonly BasicConv2d branch_pool;
    private readonly FidInceptionEPool _pool;

    public FidInceptionE(long inChannels, FidInceptionEPool pool, Device? device = null) : base(nameof(FidInceptionE))
    {
        _pool = pool;
        branch1x1 = new BasicConv2d(inChannels, 320, 1, device: device);
        branch3x3_1 = new BasicConv2d(inChannels, 384, 1, device: device);
        branch3x3_2a = new BasicConv2d(384, 384, (1, 3), padding: (0, 1), device: device);
        branch3x3_2b = new BasicConv2d(384, 384, (3, 1), padding: (1, 0), device: device);
        branch3x3dbl_1 = new BasicConv2d(inChannels, 448, 1, device: device);
        branch3x3dbl_2 = new BasicConv2d(448, 384, 3, padding: 1, device: device);
        branch3x3dbl_3a = new BasicConv2d(384, 384, (1, 3), padding: (0, 1), device: device);
        branch3x3dbl_3b = new BasicConv2d(384, 384, (3, 1), padding: (1, 0), device: device);
        branch_pool = new BasicConv2d(inChannels, 192, 1, device: device);
        register_module(nameof(branch1x1), branch1x1);
        register_module(nameof(branch3x3_1), branch3x3_1);
        register_module(nameof(branch3x3_2a), branch3x3_2a);
        register_module(nameof(branch3x3_2b), branch3x3_2b);
        register_module(nameof(branch3x3dbl_1), branch3x3dbl_1);
        register_module(nameof(branch3x3dbl_2), branch3x3dbl_2);
        register_module(nameof(branch3x3dbl_3a), branch3x3dbl_3a);
        register_module(nameof(branch3x3dbl_3b), branch3x3dbl_3b);
        register_module(nameof(branch_pool), branch_pool);
    }

    /// <param name="x">[B, C_in, H, W]</param>
    /// <returns>[B, 2048, H, W]</returns>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var b1 = branch1x1.forward(x);                                                       // [B, 320, H, W]
        var b3 = branch3x3_1.forward(x);                                                     // [B, 384, H, W]
        b3 = cat([branch3x3_2a.forward(b3), branch3x3_2b.forward(b3)], dim: 1);              // [B, 768, H, W]
        var bd = branch3x3dbl_2.forward(branch3x3dbl_1.forward(x));                          // [B, 384, H, W]
        bd = cat([branch3x3dbl_3a.forward(bd), branch3x3dbl_3b.forward(bd)], dim: 1);        // [B, 768, H, W]
        var pooled = _pool == FidInceptionEPool.Max ? FidPooling.Max3x3(x) : FidPooling.Average3x3(x); // [B, C_in, H, W]
        var bp = branch_pool.forward(pooled);                                                // [B, 192, H, W]
        return cat([b1, b3, bd, bp], dim: 1).MoveToOuterDisposeScope();                     // [B, 2048, H, W]
    }
}
