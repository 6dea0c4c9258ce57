// CompVis latent-diffusion ldm/modules/diffusionmodules/model.py `AttnBlock` ("vanilla" attention).
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

using UViT.MLNet.Core.Runtime;

namespace UViT.MLNet.Core.Autoencoder;

/// <summary>
/// Single-head self-attention over the H*W positions of a feature map, with 1x1-conv projections q, k, v, proj_out
/// (not Linear layers: the official checkpoints store them as [C, C, 1, 1]) and a residual: <c>x + proj_out(attn(norm(x)))</c>.
/// </summary>
internal sealed class AttnBlock : Module<Tensor, Tensor>
{
    private readonly GroupNorm norm;
    private readonly Conv2d q;
    private readonly Conv2d k;
    private readonly Conv2d v;
    private readonly Conv2d proj_out;

    /// <summary>Use <c>scaled_dot_product_attention</c> (default; less memory) or the official bmm/softmax path.</summary>
    public bool UseFusedAttention { get; set; } = true;

    public AttnBlock(long channels, Device? device, ScalarType? dtype) : base(nameof(AttnBlock))
    {
        norm = AutoencoderNorm.Create(channels, device, dtype);
        q = ModuleConstruction.Build(() => Conv2d(channels, channels, kernel_size: 1, device: device, dtype: dtype));
        k = ModuleConstruction.Build(() => Conv2d(channels, channels, kernel_size: 1, device: device, dtype: dtype));
        v = ModuleConstruction.Build(() => Conv2d(channels, channels, kernel_size: 1, device: device, dtype: dtype));
        proj_out = ModuleConstruction.Build(() => Conv2d(channels, channels, kernel_size: 1, device: device, dtype: dtype));
        register_module(nameof(norm), norm);
        register_module(nameof(q), q);
        register_module(nameof(k), k);
        register_module(nameof(v), v);
        register_module(nameof(proj_out), proj_out);
    }

    /// <param name="x">[B, C, H, W]</param>
    /// <returns>[B, C, H, W]</returns>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        long b = x.shape[0], c = x.shape[1], h = x.shape[2], w = x.shape[3];
        var normed = norm.forward(x);                                                   // [B, C, H, W]
        var queries = q.forward(normed).reshape(b, c, h * w).transpose(1, 2);           // [B, HW, C]
        var keys = k.forward(normed).reshape(b, c, h * w).transpose(1, 2);              // [B, HW, C]
        var values = v.forward(normed).reshape(b, c, h * w).transpose(1, 2);            // [B, HW, C]
        Tensor mixed;
        if (UseFusedAttention)
        {
            // One head of width C: the kernel's default scale C^-0.5 is the official one.
            mixed = functional.scaled_dot_product_attention(queries.unsqueeze(1), keys.unsqueeze(1), values.unsqueeze(1)).squeeze(1); // [B, HW, C]
        }
        else
        {
            var weights = bmm(queries, keys.transpose(1, 2)).Times(Math.Pow(c, -0.5)).softmax(2); // [B, HW(query), HW(key)]
            mixed = bmm(weights, values);                                                      // [B, HW, C]
        }
        var image = mixed.transpose(1, 2).reshape(b, c, h, w);                          // [B, C, H, W]
        return x.Plus(proj_out.forward(image)).MoveToOuterDisposeScope();
    }
}
