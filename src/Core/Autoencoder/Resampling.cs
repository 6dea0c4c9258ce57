// CompVis latent-diffusion ldm/modules/diffusionmodules/model.py `Downsample` and `Upsample` (with_conv=True, the only
// variant the released autoencoders use).
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

using UViT.MLNet.Core.Runtime;

namespace UViT.MLNet.Core.Autoencoder;

/// <summary>Halves the side: zero-pad right and bottom by one (pad (0,1,0,1)), then a stride-2 3x3 conv without padding.</summary>
internal sealed class Downsample : Module<Tensor, Tensor>
{
    private readonly Conv2d conv;

    public Downsample(long channels, Device? device, ScalarType? dtype) : base(nameof(Downsample))
    {
        conv = ModuleConstruction.Build(() => Conv2d(channels, channels, kernel_size: 3, stride: 2, padding: 0L, device: device, dtype: dtype));
        register_module(nameof(conv), conv);
    }

    /// <param name="x">[B, C, H, W]</param>
    /// <returns>[B, C, H/2, W/2]</returns>
    public override Tensor forward(Tensor x)
    {
        using var padded = functional.pad(x, [0, 1, 0, 1], PaddingModes.Constant, 0); // [B, C, H+1, W+1] (asymmetric, as the official code)
        return conv.forward(padded);                                                    // [B, C, H/2, W/2]
    }
}

/// <summary>Doubles the side: nearest-neighbour x2, then a 3x3 conv with padding 1.</summary>
internal sealed class Upsample : Module<Tensor, Tensor>
{
    private readonly Conv2d conv;

    public Upsample(long channels, Device? device, ScalarType? dtype) : base(nameof(Upsample))
    {
        conv = ModuleConstruction.Build(() => Conv2d(channels, channels, kernel_size: 3, padding: 1, device: device, dtype: dtype));
        register_module(nameof(conv), conv);
    }

    /// <param name="x">[B, C, H, W]</param>
    /// <returns>[B, C, 2H, 2W]</returns>
    public override Tensor forward(Tensor x)
    {
        using var upsampled = functional.interpolate(x, scale_factor: [2.0, 2.0], mode: InterpolationMode.Nearest); // [B, C, 2H, 2W]
        return conv.forward(upsampled);                                                                             // [B, C, 2H, 2W]
    }
}
