// CompVis latent-diffusion ldm/modules/diffusionmodules/model.py: the `mid` module of Encoder and Decoder
// (an nn.Module() holding block_1, attn_1, block_2).
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace UViT.MLNet.Core.Autoencoder;

/// <summary>The lowest-resolution stage of encoder and decoder: residual block, single-head attention, residual block.</summary>
internal sealed class MidBlock : Module<Tensor, Tensor>
{
    private readonly ResnetBlock block_1;
    private readonly AttnBlock attn_1;
    private readonly ResnetBlock block_2;

    public MidBlock(long channels, double dropout, Device? device, ScalarType? dtype) : base("mid")
    {
        block_1 = new ResnetBlock(channels, channels, dropout, device, dtype);
        attn_1 = new AttnBlock(channels, device, dtype);
        block_2 = new ResnetBlock(channels, channels, dropout, device, dtype);
        register_module(nameof(block_1), block_1);
        register_module(nameof(attn_1), attn_1);
        register_module(nameof(block_2), block_2);
    }

    /// <summary>The attention layer, to switch between the fused and the official path.</summary>
    internal AttnBlock Attention => attn_1;

    /// <param name="x">[B, C, h, w]</param>
    /// <returns>[B, C, h, w]</returns>
    public override Tensor forward(Tensor x)
    {
        using var a = block_1.forward(x);  // [B, C, h, w]
        using var b = attn_1.forward(a);   // [B, C, h, w]
        return block_2.forward(b);         // [B, C, h, w]
    }
}
