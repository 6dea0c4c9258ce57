// Which attention implementation a U-ViT runs. Both compute the same function (they agree to ~1e-6); which is faster depends
// on the sequence length and the device, so the default picks by both.
using TorchSharp;
using static TorchSharp.torch;

namespace UViT.MLNet.Core.Networks;

/// <summary>The attention implementation of a U-ViT's blocks.</summary>
public enum AttentionKernel
{
    /// <summary><see cref="Fused"/> on GPUs and for sequences of <see cref="AttentionKernels.FusedFromTokens"/> tokens or more, else <see cref="Plain"/>.</summary>
    Auto,
    /// <summary><c>scaled_dot_product_attention</c> (flash / memory-efficient kernels where libtorch has them).</summary>
    Fused,
    /// <summary>The official code's math: softmax(q k^T * scale) v in three operations.</summary>
    Plain,
}

/// <summary>Resolves <see cref="AttentionKernel.Auto"/>.</summary>
public static class AttentionKernels
{
    /// <summary>
    /// Sequence length from which the fused kernel is used on a CPU. Measured with 2 threads (docs/benchmarks.md): the plain
    /// path is ~25% faster at 18 tokens (the MNIST default), the fused kernel faster at 257 (U-ViT-S/2).
    /// </summary>
    public const int FusedFromTokens = 100;

    /// <summary>True when <paramref name="kernel"/> means the fused kernel for <paramref name="config"/> on <paramref name="device"/>.</summary>
    public static bool UseFused(AttentionKernel kernel, UViTConfig config, Device device) => kernel switch
    {
        AttentionKernel.Fused => true,
        AttentionKernel.Plain => false,
        _ => device.type != DeviceType.CPU || config.TokenCount >= FusedFromTokens,
    };
}
