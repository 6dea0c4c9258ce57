// The stride-1 3x3 pools of the FID Inception blocks.
// Provenance: pytorch-fid inception.py (FIDInceptionA/C/E_1: `F.avg_pool2d(x, 3, 1, 1, count_include_pad=False)`;
// FIDInceptionE_2: `F.max_pool2d(x, 3, 1, 1)`), which reproduce the 2015 TensorFlow graph the FID weights come from.
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace UViT.MLNet.Core.Evaluation;

/// <summary>Shape-preserving 3x3 pools (stride 1, padding 1) used by the pool branches of the FID blocks.</summary>
internal static class FidPooling
{
    /// <summary>Mean over each 3x3 window, counting only the in-image pixels (TensorFlow's 'SAME' average pool).</summary>
    /// <param name="x">[B, C, H, W]</param>
    /// <returns>[B, C, H, W]</returns>
    public static Tensor Average3x3(Tensor x) =>
        functional.avg_pool2d(x, kernel_size: 3, stride: 1, padding: 1, count_include_pad: false);

    /// <summary>Max over each 3x3 window (padding never wins: it is -inf).</summary>
    /// <param name="x">[B, C, H, W]</param>
    /// <returns>[B, C, H, W]</returns>
    public static Tensor Max3x3(Tensor x) =>
        functional.max_pool2d(x, kernel_size: 3, stride: 1, padding: 1);
}
