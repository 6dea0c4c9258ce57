// The modules of the CLIP text transformer (openai/CLIP clip/model.py: ResidualAttentionBlock, QuickGELU; Hugging Face
// transformers models/clip/modeling_clip.py: CLIPTextEmbeddings, CLIPAttention, CLIPMLP, CLIPEncoderLayer). Field names are
// Hugging Face's state-dict key names, so a CLIPTextModel checkpoint loads by name.
using TorchSharp;
using TorchSharp.Modules;
using UViT.MLNet.Core.Runtime;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace UViT.MLNet.Core.Text;

/// <summary>Token embedding plus a learned absolute position embedding.</summary>
public sealed class ClipTextEmbeddings : Module<Tensor, Tensor>
{
    private readonly Embedding token_embedding;
    private readonly Embedding position_embedding;

    public ClipTextEmbeddings(ClipTextConfig config, Device? device = null, ScalarType? dtype = null) : base("CLIPTextEmbeddings")
    {
        token_embedding = Embedding(config.VocabSize, config.HiddenSize, device: device, dtype: dtype);
        position_embedding = Embedding(config.MaxPositionEmbeddings, config.HiddenSize, device: device, dtype: dtype);
        register_module(nameof(token_embedding), token_embedding);
        register_module(nameof(position_embedding), position_embedding);
    }

    /// <param name="inputIds">[B, L] int64 token ids, L &lt;= max positions.</param>
    /// <returns>[B, L, D]</returns>
    public override Tensor forward(Tensor inputIds)
    {
        using var scope = NewDisposeScope();
        long length = inputIds.shape[1];
        var positions = position_embedding.weight![TensorIndex.Slice(0, length)];   // [L, D]: position ids are 0..L-1
        var tokens = token_embedding.forward(inputIds);                              // [B, L, D]
        return tokens.Plus(positions).MoveToOuterDisposeScope();                     // [B, L, D]
    }
}

/// <summary>Multi-head self-attention with separate q/k/v projections and a causal mask (each token sees itself and earlier ones).</summary>
public sealed class ClipAttention : Module<Tensor, Tensor>
{
    private readonly Linear q_proj;
    private readonly Linear k_proj;
    private readonly Linear v_proj;
    private readonly Linear out_proj;
    private readonly int _heads;

    public ClipAttention(ClipTextConfig config, Device? device = null, ScalarType? dtype = null) : base("CLIPAttention")
    {
        int d = config.HiddenSize;
        _heads = config.NumAttentionHeads;
        q_proj = Linear(d, d, device: device, dtype: dtype);
        k_proj = Linear(d, d, device: device, dtype: dtype);
        v_proj = Linear(d, d, device: device, dtype: dtype);
        out_proj = Linear(d, d, device: device, dtype: dtype);
        // Hugging Face's order (q, k, v, out) so that named_parameters lists the checkpoint's key order.
        register_module(nameof(q_proj), q_proj);
        register_module(nameof(k_proj), k_proj);
        register_module(nameof(v_proj), v_proj);
        register_module(nameof(out_proj), out_proj);
    }

    /// <param name="x">[B, L, D]</param>
    /// <returns>[B, L, D]</returns>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        long b = x.shape[0], l = x.shape[1], d = x.shape[2];
        Tensor Heads(Linear projection) => projection.forward(x).view(b, l, _heads, d / _heads).transpose(1, 2); // [B, H, L, hd]
        // softmax(q k^T / sqrt(hd) + causal) v; no padding mask: CLIP attends over the padding tokens too (they come last,
        // so the causal mask already keeps them out of every real token's context).
        var mixed = functional.scaled_dot_product_attention(Heads(q_proj), Heads(k_proj), Heads(v_proj), is_casual: true); // [B, H, L, hd]
        var merged = mixed.transpose(1, 2).reshape(b, l, d);                                                              // [B, L, D]
        return out_proj.forward(merged).MoveToOuterDisposeScope();                                                        // [B, L, D]
    }
}

/// <summary>The transformer MLP: fc1, quick-GELU (or GELU), fc2.</summary>
public sealed class ClipMlp : Module<Tensor, Tensor>
{
    private readonly Linear fc1;
    private readonly Linear fc2;
    private readonly ClipActivation _activation;

    public ClipMlp(ClipTextConfig config, Device? device = null, ScalarType? dtype = null) : base("CLIPMLP")
    {
        _activation = config.Activation;
        fc1 = Linear(config.HiddenSize, config.IntermediateSize, device: device, dtype: dtype);
        fc2 = Linear(config.IntermediateSize, config.HiddenSize, device: device, dtype: dtype);
        register_module(nameof(fc1), fc1);
        register_module(nameof(fc2), fc2);
    }

    /// <param name="x">[B, L, D]</param>
    /// <returns>[B, L, D]</returns>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var hidden = fc1.forward(x);                                                   // [B, L, I]
        var activated = _activation == ClipActivation.QuickGelu
            ? hidden * functional.sigmoid(hidden.Times(1.702))                         // [B, L, I] quick-GELU, as CLIP was trained
            : functional.gelu(hidden);                                                 // [B, L, I]
        return fc2.forward(activated).MoveToOuterDisposeScope();                       // [B, L, D]
    }
}

/// <summary>Pre-LayerNorm transformer block: <c>x += attn(ln1(x)); x += mlp(ln2(x))</c>.</summary>
public sealed class ClipEncoderLayer : Module<Tensor, Tensor>
{
    private readonly ClipAttention self_attn;
    private readonly LayerNorm layer_norm1;
    private readonly ClipMlp mlp;
    private readonly LayerNorm layer_norm2;

    public ClipEncoderLayer(ClipTextConfig config, Device? device = null, ScalarType? dtype = null) : base("CLIPEncoderLayer")
    {
        self_attn = new ClipAttention(config, device, dtype);
        layer_norm1 = LayerNorm(config.HiddenSize, eps: config.LayerNormEps, device: device, dtype: dtype);
        mlp = new ClipMlp(config, device, dtype);
        layer_norm2 = LayerNorm(config.HiddenSize, eps: config.LayerNormEps, device: device, dtype: dtype);
        register_module(nameof(self_attn), self_attn);
        register_module(nameof(layer_norm1), layer_norm1);
        register_module(nameof(mlp), mlp);
        register_module(nameof(layer_norm2), layer_norm2);
    }

    /// <param name="x">[B, L, D]</param>
    /// <returns>[B, L, D]</returns>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        x = x.Plus(self_attn.forward(layer_norm1.forward(x)));    // [B, L, D]
        x = x.Plus(mlp.forward(layer_norm2.forward(x)));          // [B, L, D]
        return x.MoveToOuterDisposeScope();
    }
}
