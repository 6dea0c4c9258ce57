// The conv unit of Inception v3: conv (no bias) -> BatchNorm (eps 0.001) -> ReLU.
// Provenance: torchvision models/inception.py `BasicConv2d`, which pytorch-fid's inception.py (and U-ViT's tools/inception.py,
// a copy of it) builds the FID network from. Field names `conv` and `bn` are the checkpoint's key names.
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

using UViT.MLNet.Core.Runtime;

namespace UViT.MLNet.Core.Evaluation;

/// <summary>
/// Conv2d without bias, BatchNorm2d with eps 0.001 (the TensorFlow graph's value, not PyTorch's 1e-5), then ReLU.
/// The running statistics are buffers (keys <c>bn.running_mean</c>, <c>bn.running_var</c>, <c>bn.num_batches_tracked</c>).
/// </summary>
public sealed class BasicConv2d : Module<Tensor, Tensor>
{
    private readonly Conv2d conv;
    private readonly BatchNorm2d bn;

    /// <param name="kernel">(height, width) of the kernel.</param>
    /// <param name="stride">Stride in both directions.</param>
    /// <param name="padding">(height, width) zero padding.</param>
    public BasicConv2d(long inChannels, long outChannels, (long, long) kernel, long stride = 1, (long, long)? padding = null, Device? device = null)
        : base(nameof(BasicConv2d))
    {
        conv = ModuleConstruction.Build(() => Conv2d(inChannels, outChannels, kernel, stride: (stride, stride), padding: padding ?? (0, 0), bias: false, device: device));
        bn = BatchNorm2d(outChannels, eps: 0.001, device: device);
        register_module(nameof(conv), conv);
        register_module(nameof(bn), bn);
    }

    /// <summary>Square kernel <paramref name="kernel"/> x <paramref name="kernel"/> with equal padding on all sides.</summary>
    public BasicConv2d(long inChannels, long outChannels, long kernel, long stride = 1, long padding = 0, Device? device = null)
        : this(inChannels, outChannels, (kernel, kernel), stride, (padding, padding), device)
    {
    }

    /// <param name="x">[B, C_in, H, W]</param>
    /// <returns>[B, C_out, H', W']</returns>
    public override Tensor forward(Tensor x)
    {
        using var convolved = conv.forward(x);          // [B, C_out, H', W']
        using var normalised = bn.forward(convolved);   // [B, C_out, H', W']
        return functional.relu(normalised);             // [B, C_out, H', W']
    }
}
