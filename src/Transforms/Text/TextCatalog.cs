// `mlContext.Transforms.EncodeText(...)`: the CLIP text transform in ML.NET's catalog style.
using Microsoft.ML;
using UViT.MLNet.Core.Text;
using UViT.MLNet.Transforms.Persistence;

namespace UViT.MLNet.Transforms.Text;

/// <summary>Catalog methods of the text transform; they also register UViT.MLNet's model-zip loaders with the MLContext.</summary>
public static class TextCatalog
{
    /// <summary>
    /// Encodes a text column (one prompt, or a vector of captions) into CLIP contexts with the model in a Hugging Face folder
    /// laid out like openai/clip-vit-large-patch14 (config.json, vocab.json, merges.txt, model.safetensors).
    /// </summary>
    /// <param name="catalog">mlContext.Transforms.</param>
    /// <param name="clipFolder">The model folder.</param>
    /// <param name="outputColumnName">The context column added: Vector&lt;Single, 77, D&gt; (Vector&lt;Single, K, 77, D&gt; for K captions).</param>
    /// <param name="inputColumnName">The text column.</param>
    /// <param name="batchSize">Texts per encoder forward pass.</param>
    /// <param name="device">"cpu", "cuda" or "cuda:N"; null: the MLContext's GpuDeviceId / FallbackToCpu.</param>
    public static TextEncodingEstimator EncodeText(this TransformsCatalog catalog, string clipFolder, string outputColumnName = "Context",
        string inputColumnName = "Text", int batchSize = 16, string? device = null) =>
        catalog.EncodeText(ClipTextFiles.FromFolder(clipFolder), new TextEncodingOptions
        {
            OutputColumnName = outputColumnName, InputColumnName = inputColumnName, BatchSize = batchSize, Device = device,
        });

    /// <summary>Encodes texts into CLIP contexts with the encoder in explicit files and full options.</summary>
    public static TextEncodingEstimator EncodeText(this TransformsCatalog catalog, ClipTextFiles files, TextEncodingOptions options) =>
        new(MLNetInternals.Environment(catalog), files, options);
}
