// timm/PyTorch `trunc_normal_` (used by the official U-ViT initialisation), written out because TorchSharp 0.107's
// init.trunc_normal_ does not produce the requested standard deviation (measured: std ~1e-9 for std 0.02).
using TorchSharp;
using UViT.MLNet.Core.Runtime;
using static TorchSharp.torch;

namespace UViT.MLNet.Core.Networks;

/// <summary>Fills tensors from a normal distribution truncated to [a, b], by inverse-CDF sampling as PyTorch does.</summary>
public static class TruncatedNormal
{
    /// <summary>In place: N(mean, std^2) restricted to [a, b] (absolute bounds, as timm's default a = -2, b = 2).</summary>
    public static Tensor Fill(Tensor tensor, double mean = 0, double std = 1, double a = -2, double b = 2, Generator? generator = null)
    {
        using var noGrad = no_grad();
        double lower = NormalCdf((a - mean) / std), upper = NormalCdf((b - mean) / std);
        tensor.uniform_(2 * lower - 1, 2 * upper - 1, generator);   // uniform in erf space
        tensor.erfinv_();                                          // standard normal / sqrt(2), truncated
        using var scale = (std * Math.Sqrt(2)).ToScalar();
        using var shift = mean.ToScalar();
        using var low = a.ToScalar();
        using var high = b.ToScalar();
        tensor.mul_(scale).add_(shift, KeptScalars.One);
        return tensor.clamp_(low, high);
    }

    // Standard normal CDF in float64, through libtorch's erf.
    private static double NormalCdf(double x)
    {
        using var value = torch.tensor(x / Math.Sqrt(2), ScalarType.Float64);
        using var erf = value.erf();
        return (1 + erf.item<double>()) / 2;
    }
}
