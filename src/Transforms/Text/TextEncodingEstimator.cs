// The trivial estimator of EncodeText, in ML.NET's style: GetOutputSchema checks the text column when the pipeline is
// built; Fit loads the CLIP text encoder and returns the transformer (nothing is learned: the text tower stays frozen, as in
// the official MS-COCO U-ViT).
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using UViT.MLNet.Core.Text;
using UViT.MLNet.Transforms.Persistence;

namespace UViT.MLNet.Transforms.Text;

/// <summary>Estimator of <see cref="TextEncodingTransformer"/>: texts to CLIP contexts.</summary>
public sealed class TextEncodingEstimator : IEstimator<TextEncodingTransformer>
{
    /// <param name="environment">The MLContext (our model-zip loaders are registered with it).</param>
    /// <param name="files">Tokenizer files, architecture and weights of the CLIP text encoder.</param>
    /// <param name="options">Columns, batching, device (null: the MLContext's GpuDeviceId / FallbackToCpu).</param>
    public TextEncodingEstimator(IHostEnvironment environment, ClipTextFiles files, TextEncodingOptions options)
    {
        ArgumentNullException.ThrowIfNull(environment);
        if (options.BatchSize < 1) throw new ArgumentOutOfRangeException(nameof(options), $"BatchSize must be at least 1; got {options.BatchSize}.");
        UViTComponents.Register(environment);
        (Files, Options) = (files ?? throw new ArgumentNullException(nameof(files)), options with { Device = ContextSettings.Device(environment, options.Device) });
    }

    /// <summary>Where the encoder comes from.</summary>
    public ClipTextFiles Files { get; }
    /// <summary>The transform's settings.</summary>
    public TextEncodingOptions Options { get; }

    /// <summary>Needs the text column (text or a vector of text); adds the context column.</summary>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        var text = inputSchema.FirstOrDefault(c => c.Name == Options.InputColumnName);
        if (text.Name is null)
            throw new ArgumentOutOfRangeException(nameof(inputSchema), $"Text column '{Options.InputColumnName}' not found. Columns present: {string.Join(", ", inputSchema.Select(c => c.Name))}.");
        if (text.ItemType is not TextDataViewType)
            throw new ArgumentOutOfRangeException(nameof(inputSchema), $"Text column '{Options.InputColumnName}' must hold text or a vector of text; found {text.Kind} of {text.ItemType}.");
        var columns = inputSchema.ToDictionary(c => c.Name);
        var kind = text.Kind == SchemaShape.Column.VectorKind.VariableVector ? SchemaShape.Column.VectorKind.VariableVector : SchemaShape.Column.VectorKind.Vector;
        columns[Options.OutputColumnName] = MLNetInternals.SchemaColumn(Options.OutputColumnName, kind, NumberDataViewType.Single, false);
        return new SchemaShape(columns.Values);
    }

    /// <summary>Loads the encoder and checks <paramref name="input"/>'s schema against it.</summary>
    public TextEncodingTransformer Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var transformer = TextEncodingTransformer.FromFiles(Files, Options);
        try
        {
            transformer.GetOutputSchema(input.Schema);
            return transformer;
        }
        catch
        {
            transformer.Dispose();
            throw;
        }
    }
}
