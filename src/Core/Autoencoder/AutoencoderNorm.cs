// CompVis latent-diffusion ldm/modules/diffusionmodules/model.py `Normalize` and `nonlinearity`.
using TorchSharp;
using TorchSharp.Modules;
using UViT.MLNet.Core.Runtime;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace UViT.MLNet.Core.Autoencoder;

/// <summary>The autoencoder's normalisation and activation, in one place so every block agrees on them.</summary>
internal static class AutoencoderNorm
{
    /// <summary>GroupNorm with 32 groups and eps 1e-6 (not LayerNorm's 1e-5: a pitfall of ports, reference.md section 7).</summary>
    public static GroupNorm Create(long channels, Device? device, ScalarType? dtype)
    {
        var norm = GroupNorm(32, channels, eps: 1e-6, affine: true, device: device, dtype: dtype);
        // TorchSharp 0.107 leaves GroupNorm's affine parameters uninitialised (NaN and 1e25 seen), so an autoencoder used
        // before its weights are loaded decodes NaN. Start them where PyTorch does: weight 1, bias 0.
        using (no_grad())
        {
            using var zero = 0.ToScalar();
            norm.weight!.fill_(KeptScalars.One);
            norm.bias!.fill_(zero);   // not zero_(): TorchSharp 0.107's returns a new handle nobody disposes
        }
        return norm;
    }

    /// <summary>swish(x) = x * sigmoid(x), the official <c>nonlinearity</c>.</summary>
    public static Tensor Swish(Tensor x) => functional.silu(x);
}
