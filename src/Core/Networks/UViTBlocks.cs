// The building blocks of U-ViT (official libs/uvit.py: PatchEmbed, Attention, Mlp, Block). Field names are the
// state-dict key names of the official code, so checkpoints load by name.
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

using UViT.MLNet.Core.Runtime;

namespace UViT.MLNet.Core.Networks;

/// <summary>Non-overlapping patch embedding: a conv with kernel = stride = P, flattened row-major into tokens.</summary>
public sealed class PatchEmbed : Module<Tensor, Tensor>
{
    private readonly Conv2d proj;

    public PatchEmbed(int patchSize, int inChannels, int embedDim, Device? device = null, ScalarType? dtype = null) : base(nameof(PatchEmbed))
    {
        proj = ModuleConstruction.Build(() => Conv2d(inChannels, embedDim, kernel_size: patchSize, stride: patchSize, device: device, dtype: dtype));
        register_module(nameof(proj), proj);
    }

    /// <param name="x">[B, C, H, W]</param>
    /// <returns>[B, (H/P)(W/P), D]</returns>
    public override Tensor forward(Tensor x)
    {
        using var patches = proj.forward(x);     // [B, D, H/P, W/P]
        return patches.flatten(2).transpose(1, 2); // [B, N, D]
    }
}

/// <summary>Multi-head self-attention with a fused qkv projection laid out as (3, heads, head_dim).</summary>
public sealed class Attention : Module<Tensor, Tensor>
{
    private readonly Linear qkv;
    private readonly Linear proj;
    private readonly int _heads;
    private readonly double _scale;
    private readonly double _defaultScale;

    /// <summary>Use <c>scaled_dot_product_attention</c> (true) or the plain softmax(q k^T s) v path of the official code.</summary>
    public bool UseFusedAttention { get; set; } = true;

    public Attention(int dim, int heads, bool qkvBias, double? qkScale, Device? device = null, ScalarType? dtype = null) : base(nameof(Attention))
    {
        _heads = heads;
        _defaultScale = Math.Pow(dim / heads, -0.5);
        _scale = qkScale ?? _defaultScale;
        qkv = Linear(dim, dim * 3, hasBias: qkvBias, device: device, dtype: dtype);
        proj = Linear(dim, dim, device: device, dtype: dtype);
        register_module(nameof(qkv), qkv);
        register_module(nameof(proj), proj);
    }

    /// <param name="x">[B, L, D]</param>
    /// <returns>[B, L, D]</returns>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        long b = x.shape[0], l = x.shape[1], d = x.shape[2];
        var qkvHeads = qkv.forward(x).reshape(b, l, 3, _heads, d / _heads).permute(2, 0, 3, 1, 4); // [3, B, H, L, hd]
        Tensor q = qkvHeads[0], k = qkvHeads[1], v = qkvHeads[2];                                   // [B, H, L, hd]
        Tensor mixed;
        if (UseFusedAttention)
        {
            // The fused kernel always scales by head_dim^-0.5; fold a custom qk_scale into q.
            if (_scale != _defaultScale) q = q.Times(_scale / _defaultScale);
            mixed = functional.scaled_dot_product_attention(q, k, v);                              // [B, H, L, hd]
        }
        else
        {
            var weights = matmul(q, k.transpose(-2, -1)).Times(_scale).softmax(-1);                // [B, H, L, L]
            mixed = matmul(weights, v);                                                             // [B, H, L, hd]
        }
        var merged = mixed.transpose(1, 2).reshape(b, l, d);                                        // [B, L, D]
        return proj.forward(merged).MoveToOuterDisposeScope();
    }
}

/// <summary>The transformer MLP: fc1, exact (erf) GELU, fc2.</summary>
public sealed class Mlp : Module<Tensor, Tensor>
{
    private readonly Linear fc1;
    private readonly Linear fc2;

    public Mlp(int dim, int hidden, Device? device = null, ScalarType? dtype = null) : base(nameof(Mlp))
    {
        fc1 = Linear(dim, hidden, device: device, dtype: dtype);
        fc2 = Linear(hidden, dim, device: device, dtype: dtype);
        register_module(nameof(fc1), fc1);
        register_module(nameof(fc2), fc2);
    }

    /// <param name="x">[B, L, D]</param>
    /// <returns>[B, L, D]</returns>
    public override Tensor forward(Tensor x)
    {
        using var hidden = fc1.forward(x);                 // [B, L, 4D]
        using var activated = functional.gelu(hidden);     // [B, L, 4D]
        return fc2.forward(activated);                     // [B, L, D]
    }
}

/// <summary>
/// Pre-norm transformer block <c>x += attn(norm1(x)); x += mlp(norm2(x))</c>; out-blocks first fuse the long skip with
/// <c>skip_linear(cat([x, skip], -1))</c> (main path first). Ablation variants (<see cref="UViTConfig"/>): SkipMode Add fuses
/// with <c>x + skip</c> instead; TimeConditioning AdaLayerNorm modulates both norms, <c>norm(x) * (1 + scale) + shift</c>,
/// with the four [B, D] chunks (shift1, scale1, shift2, scale2) of <c>ada_ln(condition)</c>.
/// </summary>
public sealed class Block : Module<Tensor, Tensor?, Tensor>
{
    private readonly LayerNorm norm1;
    private readonly Attention attn;
    private readonly LayerNorm norm2;
    private readonly Mlp mlp;
    private readonly Linear? skip_linear;
    private readonly Linear? ada_ln;
    private readonly bool _addSkip;

    public Block(UViTConfig config, bool withSkip, Device? device = null, ScalarType? dtype = null) : base(nameof(Block))
    {
        int dim = config.EmbedDim;
        norm1 = LayerNorm(dim, eps: 1e-5, device: device, dtype: dtype);
        attn = new Attention(dim, config.NumHeads, config.QkvBias, config.QkScale, device, dtype);
        norm2 = LayerNorm(dim, eps: 1e-5, device: device, dtype: dtype);
        mlp = new Mlp(dim, config.MlpHiddenDim, device, dtype);
        register_module(nameof(norm1), norm1);
        register_module(nameof(attn), attn);
        register_module(nameof(norm2), norm2);
        register_module(nameof(mlp), mlp);
        _addSkip = withSkip && config.SkipMode == UViTSkipMode.Add;
        if (withSkip && !_addSkip)
        {
            skip_linear = Linear(2 * dim, dim, device: device, dtype: dtype);
            register_module(nameof(skip_linear), skip_linear);
        }
        if (config.TimeConditioning == UViTTimeConditioning.AdaLayerNorm)
        {
            ada_ln = Linear(dim, 4 * dim, device: device, dtype: dtype);
            register_module(nameof(ada_ln), ada_ln);
        }
    }

    /// <summary>The attention module, to switch between the fused and the plain path.</summary>
    internal Attention SelfAttention => attn;

    /// <param name="x">[B, L, D]</param>
    /// <param name="skip">[B, L, D] output of the paired in-block (out-blocks only), or null.</param>
    /// <returns>[B, L, D]</returns>
    public override Tensor forward(Tensor x, Tensor? skip) => forward(x, skip, null);

    /// <param name="x">[B, L, D]</param>
    /// <param name="skip">[B, L, D] output of the paired in-block (out-blocks only), or null.</param>
    /// <param name="condition">[B, D] SiLU of the time + label embedding (adaptive layer norm variant only), or null.</param>
    /// <returns>[B, L, D]</returns>
    public Tensor forward(Tensor x, Tensor? skip, Tensor? condition)
    {
        using var scope = NewDisposeScope();
        if (skip_linear is not null || _addSkip)
        {
            if (skip is null) throw new ArgumentNullException(nameof(skip), "An out-block with a long skip needs its skip input.");
            x = _addSkip ? x.Plus(skip) : skip_linear!.forward(cat([x, skip], dim: -1));   // [B, L, D] ([B, L, 2D] -> [B, L, D] for concat)
        }
        if (ada_ln is null)
        {
            x = x.Plus(attn.forward(norm1.forward(x)));              // [B, L, D]
            x = x.Plus(mlp.forward(norm2.forward(x)));               // [B, L, D]
            return x.MoveToOuterDisposeScope();
        }
        if (condition is null) throw new ArgumentNullException(nameof(condition), "An adaptive-layer-norm block needs the time/label condition.");
        var chunks = ada_ln.forward(condition).unsqueeze(1).chunk(4, dim: -1);                // 4 x [B, 1, D]
        x = x.Plus(attn.forward((norm1.forward(x) * chunks[1].Plus(1)).Plus(chunks[0])));     // [B, L, D]
        x = x.Plus(mlp.forward((norm2.forward(x) * chunks[3].Plus(1)).Plus(chunks[2])));      // [B, L, D]
        return x.MoveToOuterDisposeScope();
    }
}
