// The CLIP text tower's architecture, under Hugging Face transformers' CLIPTextConfig field names so that a model's
// config.json (its "text_config" object) reads as is. openai/CLIP clip/model.py calls these transformer_width,
// transformer_layers, transformer_heads, context_length and vocab_size.
using System.Globalization;
using System.Text.Json;

namespace UViT.MLNet.Core.Text;

/// <summary>The activation of the text tower's MLP.</summary>
public enum ClipActivation
{
    /// <summary><c>x * sigmoid(1.702 x)</c>: every OpenAI CLIP model.</summary>
    QuickGelu,
    /// <summary>Exact (erf) GELU: some later CLIP-style models.</summary>
    Gelu,
}

/// <summary>Architecture of a CLIP text transformer.</summary>
/// <param name="VocabSize">Token-embedding rows (49,408 for every OpenAI CLIP).</param>
/// <param name="HiddenSize">Width D of the tokens and of the output contexts.</param>
/// <param name="NumHiddenLayers">Number of transformer blocks.</param>
/// <param name="NumAttentionHeads">Attention heads per block (D must divide by it).</param>
/// <param name="IntermediateSize">Hidden width of the MLP.</param>
/// <param name="MaxPositionEmbeddings">Position-embedding rows = the longest token sequence (77).</param>
/// <param name="Activation">MLP activation.</param>
/// <param name="LayerNormEps">LayerNorm epsilon.</param>
public sealed record ClipTextConfig(
    int VocabSize,
    int HiddenSize,
    int NumHiddenLayers,
    int NumAttentionHeads,
    int IntermediateSize,
    int MaxPositionEmbeddings,
    ClipActivation Activation = ClipActivation.QuickGelu,
    double LayerNormEps = 1e-5)
{
    /// <summary>
    /// The text tower of <c>openai/clip-vit-large-patch14</c>, the MS-COCO U-ViT's conditioning
    /// (123,060,480 parameters; contexts <c>[77, 768]</c>).
    /// </summary>
    public static ClipTextConfig VitL14 { get; } = new(49408, 768, 12, 12, 3072, 77);

    /// <summary>Head width D / heads.</summary>
    public int HeadDim => HiddenSize / NumAttentionHeads;

    /// <summary>Checks that the numbers make a network; returns this config.</summary>
    /// <exception cref="ArgumentException">A field is out of range; the message names it.</exception>
    public ClipTextConfig Validate()
    {
        void Positive(int value, string name)
        {
            if (value <= 0) throw new ArgumentException($"CLIP text config: {name} must be positive, got {value}.");
        }
        Positive(VocabSize, "vocab_size");
        Positive(HiddenSize, "hidden_size");
        Positive(NumHiddenLayers, "num_hidden_layers");
        Positive(NumAttentionHeads, "num_attention_heads");
        Positive(IntermediateSize, "intermediate_size");
        Positive(MaxPositionEmbeddings, "max_position_embeddings");
        if (HiddenSize % NumAttentionHeads != 0)
            throw new ArgumentException($"CLIP text config: hidden_size {HiddenSize} is not divisible by num_attention_heads {NumAttentionHeads}.");
        if (!(LayerNormEps > 0)) throw new ArgumentException($"CLIP text config: layer_norm_eps must be positive, got {LayerNormEps}.");
        return this;
    }

    /// <summary>
    /// Reads a CLIPTextConfig JSON object (<c>vocab_size</c>, <c>hidden_size</c>, ...). A whole CLIPConfig (with a
    /// <c>text_config</c> object) is accepted too. Missing fields take Hugging Face's CLIPTextConfig defaults
    /// (those of ViT-B/32: 512 wide, 12 layers, 8 heads, MLP 2048), as transformers itself would.
    /// </summary>
    /// <exception cref="ArgumentException">Unknown activation or an invalid combination.</exception>
    public static ClipTextConfig FromJson(JsonElement json)
    {
        if (json.ValueKind == JsonValueKind.Object && json.TryGetProperty("text_config", out var inner) && inner.ValueKind == JsonValueKind.Object) json = inner;
        int Int(string name, int fallback) => json.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetInt32() : fallback;
        double Real(string name, double fallback) => json.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetDouble() : fallback;
        string act = json.TryGetProperty("hidden_act", out var a) && a.ValueKind == JsonValueKind.String ? a.GetString()! : "quick_gelu";
        var activation = act switch
        {
            "quick_gelu" => ClipActivation.QuickGelu,
            "gelu" => ClipActivation.Gelu,
            _ => throw new ArgumentException($"CLIP text config: hidden_act '{act}' is not supported (use quick_gelu or gelu)."),
        };
        return new ClipTextConfig(
            Int("vocab_size", 49408), Int("hidden_size", 512), Int("num_hidden_layers", 12), Int("num_attention_heads", 8),
            Int("intermediate_size", 2048), Int("max_position_embeddings", 77), activation, Real("layer_norm_eps", 1e-5)).Validate();
    }

    /// <summary>Reads <see cref="FromJson"/> from a file (a Hugging Face config.json, or any JSON with a "config" object).</summary>
    public static ClipTextConfig FromFile(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"CLIP config '{path}' does not exist.", path);
        var root = JsonDocument.Parse(File.ReadAllText(path)).RootElement;
        if (root.TryGetProperty("config", out var config) && config.ValueKind == JsonValueKind.Object) root = config;
        return FromJson(root);
    }

    /// <inheritdoc />
    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"CLIP text: width {HiddenSize}, {NumHiddenLayers} layers, {NumAttentionHeads} heads, MLP {IntermediateSize}, vocab {VocabSize}, {MaxPositionEmbeddings} positions, {Activation}, eps {LayerNormEps}");
}
