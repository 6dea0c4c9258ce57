// Inception block C as the FID network computes it (Mixed_6b .. Mixed_6e, on the 17x17 grid).
// Provenance: pytorch-fid inception.py `FIDInceptionC` (U-ViT tools/inception.py is a copy), over torchvision's `InceptionC`.
// The FID variant's only change: the pool branch's 3x3 average excludes padding (count_include_pad=False).
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace UViT.MLNet.Core.Evaluation;

/// <summary>Factorised 7x7 convolutions: 1x1; 1x1 -> 1x7 -> 7x1; 1x1 -> (7x1 -> 1x7) x 2; avg-pool -> 1x1. Outputs 768 channels.</summary>
public sealed class FidInceptionC : Module<Tensor, Tensor>
{
    private readonly BasicConv2d branch1x1;
    private readonly BasicConv2d branch7x7_1;
    private readonly BasicConv2d branch7x7_2;
    private readonly BasicConv2d branch7x7_3;
    private readonly BasicConv2d branch7x7dbl_1;
    private readonly BasicConv2d branch7x7dbl_2;
    private readonly BasicConv2d branch7x7dbl_3;
    private readonly BasicConv2d branch7x7dbl_4;
    private readonly BasicConv2d branch7x7dbl_5;
    private readonly BasicConv2d branch_pool;

    /// <param name="channels7x7">Width of the inner 7x7 branches (128, 160, 160, 192 for Mixed_6b..6e).</param>
    public FidInceptionC(long inChannels, long channels7x7, Device? device = null) : base(nameof(FidInceptionC))
    {
        long c7 = channels7x7;
        branch1x1 = new BasicConv2d(inChannels, 192, 1, device: device);
        branch7x7_1 = new BasicConv2d(inChannels, c7, 1, device: device);
        branch7x7_2 = new BasicConv2d(c7, c7, (1, 7), padding: (0, 3), device: device);
        branch7x7_3 = new BasicConv2d(c7, 192, (7, 1), padding: (3, 0), device: device);
        branch7x7dbl_1 = new BasicConv2d(inChannels, c7, 1, device: device);
        branch7x7dbl_2 = new BasicConv2d(c7, c7, (7, 1), padding: (3, 0), device: device);
        branch7x7dbl_3 = new BasicConv2d(c7, c7, (1, 7), padding: (0, 3), device: device);
        branch7x7dbl_4 = new BasicConv2d(c7, c7, (7, 1), padding: (3, 0), device: device);
        branch7x7dbl_5 = new BasicConv2d(c7, 192, (1, 7), padding: (0, 3), device: device);
        branch_pool = new BasicConv2d(inChannels, 192, 1, device: device);
        register_module(nameof(branch1x1), branch1x1);
        register_module(nameof(branch7x7_1), branch7x7_1);
        register_module(nameof(branch7x7_2), branch7x7_2);
        register_module(nameof(branch7x7_3), branch7x7_3);
        register_module(nameof(branch7x7dbl_1), branch7x7dbl_1);
        register_module(nameof(branch7x7dbl_2), branch7x7dbl_2);
        register_module(nameof(branch7x7dbl_3), branch7x7dbl_3);
        register_module(nameof(branch7x7dbl_4), branch7x7dbl_4);
        register_module(nameof(branch7x7dbl_5), branch7x7dbl_5);
        register_module(nameof(branch_pool), branch_pool);
    }

    /// <param name="x">[B, C_in, H, W]</param>
    /// <returns>[B, 768, H, W]</returns>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var b1 = branch1x1.forward(x);                                                       // [B, 192, H, W]
        var b7 = branch7x7_3.forward(branch7x7_2.forward(branch7x7_1.forward(x)));           // [B, 192, H, W]
        var bd = branch7x7dbl_2.forward(branch7x7dbl_1.forward(x));                          // [B, c7, H, W]
        bd = branch7x7dbl_5.forward(branch7x7dbl_4.forward(branch7x7dbl_3.forward(bd)));    // [B, 192, H, W]
        var bp = branch_pool.forward(FidPooling.Average3x3(x));                              // [B, 192, H, W]
        return cat([b1, b7, bd, bp], dim: 1).MoveToOuterDisposeScope();                     // [B, 768, H, W]
    }
}
