// Inception block A as the FID network computes it (Mixed_5b, Mixed_5c, Mixed_5d).
// Provenance: pytorch-fid inception.py `FIDInceptionA` (U-ViT tools/inception.py is a copy), over torchvision's `InceptionA`.
// The FID variant differs in one place: its 3x3 average pool excludes the zero padding from the mean (count_include_pad=False),
// as the 2015 TensorFlow graph did; torchvision's version includes it.
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace UViT.MLNet.Core.Evaluation;

/// <summary>Four parallel branches (1x1; 1x1 -> 5x5; 1x1 -> 3x3 -> 3x3; avg-pool -> 1x1) concatenated on channels.</summary>
public sealed class FidInceptionA : Module<Tensor, Tensor>
{
    private readonly BasicConv2d branch1x1;
    private readonly BasicConv2d branch5x5_1;
    private readonly BasicConv2d branch5x5_2;
    private readonly BasicConv2d branch3x3dbl_1;
    private readonly BasicConv2d branch3x3dbl_2;
    private readonly BasicConv2d branch3x3dbl_3;
    private readonly BasicConv2d branch_pool;

    /// <param name="poolFeatures">Output channels of the pool branch; the block outputs 224 + poolFeatures channels.</param>
    public FidInceptionA(long inChannels, long poolFeatures, Device? device = null) : base(nameof(FidInceptionA))
    {
        branch1x1 = new BasicConv2d(inChannels, 64, 1, device: device);
        branch5x5_1 = new BasicConv2d(inChannels, 48, 1, device: device);
        branch5x5_2 = new BasicConv2d(48, 64, 5, padding: 2, device: device);
        branch3x3dbl_1 = new BasicConv2d(inChannels, 64, 1, device: device);
        branch3x3dbl_2 = new BasicConv2d(64, 96, 3, padding: 1, device: device);
        branch3x3dbl_3 = new BasicConv2d(96, 96, 3, padding: 1, device: device);
        branch_pool = new BasicConv2d(inChannels, poolFeatures, 1, device: device);
        register_module(nameof(branch1x1), branch1x1);
        register_module(nameof(branch5x5_1), branch5x5_1);
        register_module(nameof(branch5x5_2), branch5x5_2);
        register_module(nameof(branch3x3dbl_1), branch3x3dbl_1);
        register_module(nameof(branch3x3dbl_2), branch3x3dbl_2);
        register_module(nameof(branch3x3dbl_3), branch3x3dbl_3);
        register_module(nameof(branch_pool), branch_pool);
    }

    /// <param name="x">[B, C_in, H, W]</param>
    /// <returns>[B, 224 + poolFeatures, H, W]</returns>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var b1 = branch1x1.forward(x);                                                       // [B, 64, H, W]
        var b5 = branch5x5_2.forward(branch5x5_1.forward(x));                                // [B, 64, H, W]
        var b3 = branch3x3dbl_3.forward(branch3x3dbl_2.forward(branch3x3dbl_1.forward(x)));  // [B, 96, H, W]
        var pooled = FidPooling.Average3x3(x);                                               // [B, C_in, H, W]
        var bp = branch_pool.forward(pooled);                                                // [B, poolFeatures, H, W]
        return cat([b1, b5, b3, bp], dim: 1).MoveToOuterDisposeScope();                     // [B, 224 + poolFeatures, H, W]
    }
}
