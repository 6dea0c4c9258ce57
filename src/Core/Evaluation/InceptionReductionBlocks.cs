// The two grid-reduction blocks of Inception v3 (Mixed_6a and Mixed_7a). pytorch-fid keeps torchvision's versions
// unchanged in its FID network, so these follow torchvision models/inception.py `InceptionB` and `InceptionD`.
// Field names are the checkpoint's key names.
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace UViT.MLNet.Core.Evaluation;

/// <summary>Mixed_6a: halves the grid (35 -> 17) with a strided 3x3 branch, a 1x1 -> 3x3 -> strided 3x3 branch and a max-pool.</summary>
public sealed class InceptionB : Module<Tensor, Tensor>
{
    private readonly BasicConv2d branch3x3;
    private readonly BasicConv2d branch3x3dbl_1;
    private readonly BasicConv2d branch3x3dbl_2;
    private readonly BasicConv2d branch3x3dbl_3;

    public InceptionB(long inChannels, Device? device = null) : base(nameof(InceptionB))
    {
        branch3x3 = new BasicConv2d(inChannels, 384, 3, stride: 2, device: device);
        branch3x3dbl_1 = new BasicConv2d(inChannels, 64, 1, device: device);
        branch3x3dbl_2 = new BasicConv2d(64, 96, 3, padding: 1, device: device);
        branch3x3dbl_3 = new BasicConv2d(96, 96, 3, stride: 2, device: device);
        register_module(nameof(branch3x3), branch3x3);
        register_module(nameof(branch3x3dbl_1), branch3x3dbl_1);
        register_module(nameof(branch3x3dbl_2), branch3x3dbl_2);
        register_module(nameof(branch3x3dbl_3), branch3x3dbl_3);
    }

    /// <param name="x">[B, C_in, H, W]</param>
    /// <returns>[B, 480 + C_in, (H-3)/2+1, (W-3)/2+1]</returns>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var b3 = branch3x3.forward(x);                                                       // [B, 384, H', W']
        var bd = branch3x3dbl_3.forward(branch3x3dbl_2.forward(branch3x3dbl_1.forward(x)));  // [B, 96, H', W']
        var bp = functional.max_pool2d(x, kernel_size: 3, stride: 2);                         // [B, C_in, H', W']
        return cat([b3, bd, bp], dim: 1).MoveToOuterDisposeScope();                          // [B, 480 + C_in, H', W']
    }
}

/// <summary>Mixed_7a: halves the grid (17 -> 8) with 1x1 -> strided 3x3, 1x1 -> 1x7 -> 7x1 -> strided 3x3, and a max-pool.</summary>
public sealed class InceptionD : Module<Tensor, Tensor>
{
    private readonly BasicConv2d branch3x3_1;
    private readonly BasicConv2d branch3x3_2;
    private readonly BasicConv2d branch7x7x3_1;
    private readonly BasicConv2d branch7x7x3_2;
    private readonly BasicConv2d branch7x7x3_3;
    private readonly BasicConv2d branch7x7x3_4;

    public InceptionD(long inChannels, Device? device = null) : base(nameof(InceptionD))
    {
        branch3x3_1 = new BasicConv2d(inChannels, 192, 1, device: device);
        branch3x3_2 = new BasicConv2d(192, 320, 3, stride: 2, device: device);
        branch7x7x3_1 = new BasicConv2d(inChannels, 192, 1, device: device);
        branch7x7x3_2 = new BasicConv2d(192, 192, (1, 7), padding: (0, 3), device: device);
        branch7x7x3_3 = new BasicConv2d(192, 192, (7, 1), padding: (3, 0), device: device);
        branch7x7x3_4 = new BasicConv2d(192, 192, 3, stride: 2, device: device);
        register_module(nameof(branch3x3_1), branch3x3_1);
        register_module(nameof(branch3x3_2), branch3x3_2);
        register_module(nameof(branch7x7x3_1), branch7x7x3_1);
        register_module(nameof(branch7x7x3_2), branch7x7x3_2);
        register_module(nameof(branch7x7x3_3), branch7x7x3_3);
        register_module(nameof(branch7x7x3_4), branch7x7x3_4);
    }

    /// <param name="x">[B, C_in, H, W]</param>
    /// <returns>[B, 512 + C_in, (H-3)/2+1, (W-3)/2+1]</returns>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var b3 = branch3x3_2.forward(branch3x3_1.forward(x));                                // [B, 320, H', W']
        var b7 = branch7x7x3_1.forward(x);                                                   // [B, 192, H, W]
        b7 = branch7x7x3_4.forward(branch7x7x3_3.forward(branch7x7x3_2.forward(b7)));       // [B, 192, H', W']
        var bp = functional.max_pool2d(x, kernel_size: 3, stride: 2);                         // [B, C_in, H', W']
        return cat([b3, b7, bp], dim: 1).MoveToOuterDisposeScope();                          // [B, 512 + C_in, H', W']
    }
}
