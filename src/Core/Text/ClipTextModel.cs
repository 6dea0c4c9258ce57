// The CLIP text transformer as Hugging Face transformers' CLIPTextModel lays it out (models/clip/modeling_clip.py:
// CLIPTextModel -> CLIPTextTransformer -> CLIPEncoder), the form in which openai/clip-vit-large-patch14 is published; the math
// is openai/CLIP clip/model.py's encode_text up to (not including) the EOT pooling and text_projection, because U-ViT conditions
// on all 77 token states. Keys: text_model.embeddings.*, text_model.encoder.layers.{i}.*, text_model.final_layer_norm.*.
// Deviation: the position_ids buffer Hugging Face keeps (non-persistent in recent versions) is not registered; positions are
// always 0..L-1, and checkpoints that still carry it load through ClipTextCheckpoint.
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;
using UViT.MLNet.Core.Runtime;

namespace UViT.MLNet.Core.Text;

/// <summary>The stack of encoder layers (Hugging Face's CLIPEncoder; only its <c>layers</c> list holds weights).</summary>
public sealed class ClipEncoder : Module<Tensor, Tensor>
{
    private readonly ModuleList<ClipEncoderLayer> layers;

    public ClipEncoder(ClipTextConfig config, Device? device = null, ScalarType? dtype = null) : base("CLIPEncoder")
    {
        layers = new ModuleList<ClipEncoderLayer>(Enumerable.Range(0, config.NumHiddenLayers).Select(_ => new ClipEncoderLayer(config, device, dtype)).ToArray());
        register_module(nameof(layers), layers);
    }

    /// <param name="x">[B, L, D]</param>
    /// <returns>[B, L, D]</returns>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        foreach (var layer in layers) x = layer.forward(x);   // [B, L, D]
        return x.MoveToOuterDisposeScope();
    }
}

/// <summary>Embeddings, causal encoder, final LayerNorm (Hugging Face's CLIPTextTransformer).</summary>
public sealed class ClipTextTransformer : Module<Tensor, Tensor>
{
    private readonly ClipTextEmbeddings embeddings;
    private readonly ClipEncoder encoder;
    private readonly LayerNorm final_layer_norm;

    public ClipTextTransformer(ClipTextConfig config, Device? device = null, ScalarType? dtype = null) : base("CLIPTextTransformer")
    {
        embeddings = new ClipTextEmbeddings(config, device, dtype);
        encoder = new ClipEncoder(config, device, dtype);
        final_layer_norm = LayerNorm(config.HiddenSize, eps: config.LayerNormEps, device: device, dtype: dtype);
        register_module(nameof(embeddings), embeddings);
        register_module(nameof(encoder), encoder);
        register_module(nameof(final_layer_norm), final_layer_norm);
    }

    /// <param name="inputIds">[B, L] int64 token ids.</param>
    /// <returns>[B, L, D] last hidden state.</returns>
    public override Tensor forward(Tensor inputIds)
    {
        using var scope = NewDisposeScope();
        var hidden = embeddings.forward(inputIds);                          // [B, L, D]
        hidden = encoder.forward(hidden);                                   // [B, L, D]
        return final_layer_norm.forward(hidden).MoveToOuterDisposeScope();  // [B, L, D]
    }
}

/// <summary>
/// The CLIP text encoder: token ids to the final-LayerNorm hidden states Hugging Face calls <c>last_hidden_state</c>,
/// which the MS-COCO U-ViT takes as its text context (<c>[B, 77, 768]</c> for ViT-L/14).
/// </summary>
public sealed class ClipTextModel : Module<Tensor, Tensor>
{
    private readonly ClipTextTransformer text_model;

    /// <summary>The architecture this model was built with.</summary>
    public ClipTextConfig Config { get; }

    /// <summary>
    /// Builds the text tower with PyTorch's default initialisation (load pretrained weights with
    /// <see cref="ClipTextCheckpoint"/>; a CLIP text encoder is not trained here). Starts in eval mode.
    /// </summary>
    /// <param name="device">Where the parameters live (default CPU; META builds shapes without memory).</param>
    /// <param name="dtype">Parameter dtype (default float32).</param>
    public ClipTextModel(ClipTextConfig config, Device? device = null, ScalarType? dtype = null) : base("CLIPTextModel")
    {
        Runtime.TorchRuntime.EnsureLoaded(device?.type ?? DeviceType.CPU);
        Config = config.Validate();
        text_model = new ClipTextTransformer(config, device, dtype);
        register_module(nameof(text_model), text_model);
        eval();
    }

    /// <summary>Number of parameters (123,060,480 for ViT-L/14).</summary>
    public long ParameterCount => parameters().Sum(p => p.numel());

    /// <param name="inputIds">[B, L] token ids (any integer dtype), 1 &lt;= L &lt;= MaxPositionEmbeddings.</param>
    /// <returns>[B, L, D] last hidden state, in the parameters' dtype.</returns>
    /// <exception cref="ArgumentException">Wrong rank, length, dtype or an id outside the vocabulary.</exception>
    public override Tensor forward(Tensor inputIds)
    {
        CheckInput(inputIds);
        using var scope = NewDisposeScope();
        var ids = inputIds.to(ScalarType.Int64).to(text_model.parameters().First().device);   // [B, L]
        return text_model.forward(ids).MoveToOuterDisposeScope();                            // [B, L, D]
    }

    private void CheckInput(Tensor inputIds)
    {
        if (inputIds.dim() != 2)
            throw new ArgumentException($"input_ids must be [B, L], got [{string.Join(", ", inputIds.shape)}].", nameof(inputIds));
        long length = inputIds.shape[1];
        if (length < 1 || length > Config.MaxPositionEmbeddings)
            throw new ArgumentException($"input_ids has {length} tokens; this CLIP text model takes 1 to {Config.MaxPositionEmbeddings}.", nameof(inputIds));
        if (inputIds.is_floating_point() || inputIds.is_complex() || inputIds.dtype == ScalarType.Bool)
            throw new ArgumentException($"input_ids must hold integer token ids, got {inputIds.dtype}.", nameof(inputIds));
        if (inputIds.device_type == DeviceType.META || inputIds.numel() == 0) return;
        using var minimum = inputIds.min();
        using var maximum = inputIds.max();
        long min = minimum.item<long>(), max = maximum.item<long>();
        if (min < 0 || max >= Config.VocabSize)
            throw new ArgumentException($"input_ids holds ids in [{min}, {max}]; the vocabulary has {Config.VocabSize} entries.", nameof(inputIds));
    }

    /// <summary>Disposes the weights and, at once, the native module of every layer (<see cref="NativeModuleRelease"/>).</summary>
    protected override void Dispose(bool disposing)
    {
        if (disposing) NativeModuleRelease.Dispose(this, () => base.Dispose(true));
        else base.Dispose(false);
    }
}
