// The text contexts of a text-to-image training set, read once into memory (or, past the memory budget, into a training
// store: StoredTrainingContexts): one or several captions' contexts per row
// (MS-COCO has five), of which every step draws one per row, as the official training samples a caption per image.
using Microsoft.ML;
using Microsoft.ML.Data;
using UViT.MLNet.Transforms.Text;
using UViT.MLNet.Core.Runtime;
using static TorchSharp.torch;

namespace UViT.MLNet.Estimators;

/// <summary>Contexts [M, T, D] of all captions, with each row's first caption and caption count.</summary>
internal sealed class TrainingContexts : ITrainingContexts
{
    private readonly Tensor _contexts;   // [M, T, D]
    private readonly Tensor _first;      // [N] int64: index of each row's first caption
    private readonly Tensor _counts;     // [N] int64: captions per row (>= 1)

    public int Tokens { get; }
    public int Width { get; }
    public Tensor? EmptyContext { get; }
    public long Count => _first.shape[0];
    public long CaptionCount => _contexts.shape[0];
    public string Fingerprint { get; }

    private TrainingContexts(Tensor contexts, Tensor first, Tensor counts, Tensor? emptyContext, string fingerprint)
    {
        (_contexts, _first, _counts, EmptyContext, Fingerprint) = (contexts, first, counts, emptyContext, fingerprint);
        Tokens = (int)contexts.shape[1];
        Width = (int)contexts.shape[2];
    }

    /// <summary>
    /// Reads the context column into memory or, as <paramref name="storage"/> decides, into a training store on disk; returns
    /// null when the input has no column named <see cref="UViTTrainerOptions.ContextColumnName"/>.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The column is not a Single vector, or [T, D] cannot be told.</exception>
    /// <exception cref="InvalidDataException">A row's length is not a whole number of contexts, or holds NaN / infinity.</exception>
    public static ITrainingContexts? Read(IDataView data, UViTTrainerOptions options, TrainingStorage storage)
    {
        if (options.ContextColumnName is not { } name || data.Schema.GetColumnOrNull(name) is not { } column) return null;
        if (column.Type is not VectorDataViewType { ItemType: NumberDataViewType } vector || vector.ItemType != NumberDataViewType.Single)
            throw new ArgumentOutOfRangeException(nameof(data), $"Context column '{name}' must be a vector of Single (e.g. from EncodeText); found {column.Type}.");
        var (empty, tokens, width) = EmptyContextOf(column, vector, options);
        var collected = storage.Collect(TrainingRows.Contexts(data, column, tokens, width, options.CancellationToken), "contexts", [tokens, width], null, rowTable: true);
        var emptyTensor = empty is null ? null : tensor(empty, [tokens, width]);
        if (collected.Store is { } store) return new StoredTrainingContexts(store, emptyTensor);
        int perContext = tokens * width;
        var rows = collected.Rows!;
        long captions = rows.Sum(r => (long)r.Values.Length / perContext);
        var values = new float[captions * perContext];
        var first = new long[rows.Count];
        var counts = new long[rows.Count];
        long offset = 0;
        for (int i = 0; i < rows.Count; i++)
        {
            rows[i].Values.CopyTo(values, offset);
            first[i] = offset / perContext;
            counts[i] = rows[i].Values.Length / perContext;
            offset += rows[i].Values.Length;
        }
        return new TrainingContexts(tensor(values, [captions, tokens, width]), tensor(first), tensor(counts), emptyTensor, collected.Fingerprint);
    }

    // [T, D] and the empty context: from the options, else from EncodeText's annotation, else (no guidance) from known dimensions.
    private static (float[]? Empty, int Tokens, int Width) EmptyContextOf(DataViewSchema.Column column, VectorDataViewType vector, UViTTrainerOptions options)
    {
        if (options.EmptyContext is { } given)
            return (given.Cast<float>().ToArray(), given.GetLength(0), given.GetLength(1));
        if (TextContextAnnotation.Read(column) is { } annotated)
            return (annotated.Values, annotated.Tokens, annotated.Width);
        var dims = vector.Dimensions;
        if (dims.Length is 2 or 3 && dims.All(d => d > 0)) return (null, dims[^2], dims[^1]);
        throw new ArgumentOutOfRangeException(nameof(column), $"Context column '{column.Name}' ({column.Type}) carries no empty-prompt context and its [T, D] is unknown: " +
                                                              "produce it with EncodeText, or set UViTTrainerOptions.EmptyContext (e.g. TextEncodingTransformer.EmptyContext).");
    }

    public Tensor Draw(Tensor rows, Generator random)
    {
        using var index = DrawCaptions(_first.index(rows), _counts.index(rows), random);     // [B]
        return _contexts.index(index);                                                       // [B, T, D]
    }

    /// <summary>A caption per row, drawn uniformly: the index first + [0, count) of each; one draw of <paramref name="random"/>
    /// for the whole batch, shared by the in-memory and the stored contexts so both give the same batches.</summary>
    /// <param name="first">[B] int64 index of each row's first caption.</param>
    /// <param name="counts">[B] int64 captions per row (>= 1).</param>
    /// <returns>[B] int64 caption indices.</returns>
    public static Tensor DrawCaptions(Tensor first, Tensor counts, Generator random)
    {
        using var scope = NewDisposeScope();
        var pick = (rand(first.shape[0], generator: random, dtype: ScalarType.Float64) * counts).floor().to(ScalarType.Int64); // [B] in [0, count)
        return first.Plus(pick.minimum(counts.Minus(1))).MoveToOuterDisposeScope();           // [B]
    }

    public void Dispose()
    {
        _contexts.Dispose();
        _first.Dispose();
        _counts.Dispose();
        EmptyContext?.Dispose();
    }
}
