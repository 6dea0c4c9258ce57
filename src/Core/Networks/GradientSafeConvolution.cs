// libtorch 2.10's CPU build (the one TorchSharp 0.107 ships) computes conv2d's float32 input gradient wrongly on this
// project's CPUs (AMD EPYC with AVX-512): for batches of 2 or more it comes back as zeros or stale memory - every time with
// one libtorch thread, now and then with two - while the forward pass and the weight gradient are right and float64 is
// right (checked against finite differences). The U-ViT's output conv sits after everything else, so the whole transformer
// trained on that gradient (docs/design-decisions.md, "the conv2d gradient bug"). The same convolution written as im2col and
// a matrix product (nn.functional.unfold + matmul) back-propagates correctly; it is used whenever a CPU input needs its
// gradient, and the library's conv2d everywhere else, so sampling and parity with the official code are unchanged.
using TorchSharp.Modules;
using TorchSharp;
using UViT.MLNet.Core.Runtime;
using static TorchSharp.torch;

namespace UViT.MLNet.Core.Networks;

/// <summary>A stride-1, "same"-padded 2-D convolution whose input gradient is right on every CPU.</summary>
public static class GradientSafeConvolution
{
    /// <summary>
    /// <paramref name="conv"/> applied to <paramref name="x"/>: through unfold + matmul when <paramref name="x"/> is on the CPU and
    /// needs a gradient, else through the module itself (the two agree within float32 rounding, ~1e-6).
    /// </summary>
    /// <param name="conv">A convolution with an odd square kernel, stride 1 and padding kernel / 2 (the U-ViT's 3x3 output conv).</param>
    /// <param name="x">[B, C_in, H, W]</param>
    /// <returns>[B, C_out, H, W]</returns>
    public static Tensor Apply(Conv2d conv, Tensor x)
    {
        if (!x.requires_grad || x.device.type != DeviceType.CPU) return conv.forward(x);
        return Unfolded(x, conv.weight!, conv.bias);
    }

    /// <summary>conv2d(x, weight, bias, stride 1, padding k / 2) as im2col and one matrix product.</summary>
    /// <param name="x">[B, C_in, H, W]</param>
    /// <param name="weight">[C_out, C_in, k, k], k odd.</param>
    /// <param name="bias">[C_out] or null.</param>
    /// <returns>[B, C_out, H, W]</returns>
    public static Tensor Unfolded(Tensor x, Tensor weight, Tensor? bias)
    {
        long b = x.shape[0], height = x.shape[2], width = x.shape[3];
        long outChannels = weight.shape[0], k = weight.shape[2];
        if (weight.shape[3] != k || k % 2 == 0)
            throw new ArgumentException($"Expected an odd square kernel; got [{string.Join(", ", weight.shape)}].", nameof(weight));
        using var scope = NewDisposeScope();
        var columns = nn.functional.unfold(x, k, padding: k / 2);                                  // [B, C_in*k*k, H*W]
        var output = matmul(weight.reshape(outChannels, -1), columns);                              // [B, C_out, H*W]
        if (bias is not null) output = output.Plus(bias.reshape(1, outChannels, 1));                // [B, C_out, H*W]
        return output.reshape(b, outChannels, height, width).MoveToOuterDisposeScope();             // [B, C_out, H, W]
    }
}
