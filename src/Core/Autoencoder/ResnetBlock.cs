// CompVis latent-diffusion ldm/modules/diffusionmodules/model.py `ResnetBlock` (temb_channels=0: the autoencoder
// has no time input, so there is no temb_proj). Field names are the official state-dict names.
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

using UViT.MLNet.Core.Runtime;

namespace UViT.MLNet.Core.Autoencoder;

/// <summary>
/// Pre-activation residual block <c>x' + conv2(drop(swish(norm2(conv1(swish(norm1(x)))))))</c>, where <c>x'</c> is
/// <c>nin_shortcut(x)</c> (a 1x1 conv) when the channel count changes and <c>x</c> otherwise.
/// </summary>
internal sealed class ResnetBlock : Module<Tensor, Tensor>
{
    private readonly GroupNorm norm1;
    private readonly Conv2d conv1;
    private readonly GroupNorm norm2;
    private readonly Dropout dropout;
    private readonly Conv2d conv2;
    private readonly Conv2d? nin_shortcut;

    public ResnetBlock(long inChannels, long outChannels, double dropoutRate, Device? device, ScalarType? dtype) : base(nameof(ResnetBlock))
    {
        norm1 = AutoencoderNorm.Create(inChannels, device, dtype);
        conv1 = ModuleConstruction.Build(() => Conv2d(inChannels, outChannels, kernel_size: 3, padding: 1, device: device, dtype: dtype));
        norm2 = AutoencoderNorm.Create(outChannels, device, dtype);
        dropout = Dropout(dropoutRate);
        conv2 = ModuleConstruction.Build(() => Conv2d(outChannels, outChannels, kernel_size: 3, padding: 1, device: device, dtype: dtype));
        register_module(nameof(norm1), norm1);
        register_module(nameof(conv1), conv1);
        register_module(nameof(norm2), norm2);
        register_module(nameof(dropout), dropout);
        register_module(nameof(conv2), conv2);
        if (inChannels != outChannels)
        {
            nin_shortcut = ModuleConstruction.Build(() => Conv2d(inChannels, outChannels, kernel_size: 1, device: device, dtype: dtype));
            register_module(nameof(nin_shortcut), nin_shortcut);
        }
    }

    /// <param name="x">[B, Cin, H, W]</param>
    /// <returns>[B, Cout, H, W]</returns>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var h = conv1.forward(AutoencoderNorm.Swish(norm1.forward(x)));                          // [B, Cout, H, W]
        h = conv2.forward(dropout.forward(AutoencoderNorm.Swish(norm2.forward(h))));             // [B, Cout, H, W]
        var shortcut = nin_shortcut is null ? x : nin_shortcut.forward(x);                      // [B, Cout, H, W]
        return shortcut.Plus(h).MoveToOuterDisposeScope();
    }
}
