// Settings of EncodeText and where its CLIP text encoder comes from.
namespace UViT.MLNet.Transforms.Text;

/// <summary>Settings of <see cref="TextEncodingTransformer"/>.</summary>
public sealed record TextEncodingOptions
{
    /// <summary>
    /// The text column: a string (one prompt or caption per row) or a vector of strings (several captions per row, e.g.
    /// MS-COCO's five; the trainer draws one of them per step).
    /// </summary>
    public string InputColumnName { get; init; } = "Text";
    /// <summary>The context column added: Vector&lt;Single, T, D&gt; for a string column, Vector&lt;Single, K, T, D&gt; for K captions
    /// (a variable-size vector when K varies). It carries the empty prompt's context as <see cref="TextContextAnnotation"/>.</summary>
    public string OutputColumnName { get; init; } = "Context";
    /// <summary>Texts per encoder forward pass.</summary>
    public int BatchSize { get; init; } = 16;
    /// <summary>"cpu", "cuda" or "cuda:N"; null (default): the MLContext's choice (GpuDeviceId, FallbackToCpu). Not saved: a loaded model runs where its MLContext says.</summary>
    public string? Device { get; init; }
}
