// The text contexts of a text-to-image training set, read once into memory: one or several captions' contexts per row
// (MS-COCO has five), of which every step draws one per row, as the official training samples a caption per image.
using Microsoft.ML;
using Microsoft.ML.Data;
using UViT.MLNet.Transforms.Text;
using static TorchSharp.torch;

namespace UViT.MLNet.Estimators;

/// <summary>Contexts [M, T, D] of all captions, with each row's first caption and caption count.</summary>
internal sealed class TrainingContexts : IDisposable
{
    private readonly Tensor _contexts;   // [M, T, D]
    private readonly Tensor _first;      // [N] int64: index of each row's first caption
    private readonly Tensor _counts;     // [N] int64: captions per row (>= 1)

    /// <summary>Tokens per context (T).</summary>
    public int Tokens { get; }
    /// <summary>Width of a context token (D).</summary>
    public int Width { get; }
    /// <summary>[T, D] context of the empty prompt (for guidance dropout), or null when neither the column nor the options give it.</summary>
    public Tensor? EmptyContext { get; }
    /// <summary>Rows.</summary>
    public long Count => _first.shape[0];
    /// <summary>Captions over all rows.</summary>
    public long CaptionCount => _contexts.shape[0];

    private TrainingContexts(Tensor contexts, Tensor first, Tensor counts, Tensor? emptyContext)
    {
        (_contexts, _first, _counts, EmptyContext) = (contexts, first, counts, emptyContext);
        Tokens = (int)contexts.shape[1];
        Width = (int)contexts.shape[2];
    }

    /// <summary>Reads the context column, or returns null when the input has no column named <see cref="UViTTrainerOptions.ContextColumnName"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The column is not a Single vector, or [T, D] cannot be told.</exception>
    /// <exception cref="InvalidDataException">A row's length is not a whole number of contexts, or holds NaN / infinity.</exception>
    public static TrainingContexts? Read(IDataView data, UViTTrainerOptions options)
    {
        if (options.ContextColumnName is not { } name || data.Schema.GetColumnOrNull(name) is not { } column) return null;
        if (column.Type is not VectorDataViewType { ItemType: NumberDataViewType } vector || vector.ItemType != NumberDataViewType.Single)
            throw new ArgumentOutOfRangeException(nameof(data), $"Context column '{name}' must be a vector of Single (e.g. from EncodeText); found {column.Type}.");
        var (empty, tokens, width) = EmptyContextOf(column, vector, options);
        int perContext = tokens * width;
        var rows = new List<float[]>();   // one array per row: no per-value list growth on millions of context values
        long captions = 0;
        var first = new List<long>();
        var counts = new List<long>();
        using (var cursor = data.GetRowCursor([column]))
        {
            var get = cursor.GetGetter<VBuffer<float>>(column);
            VBuffer<float> buffer = default;
            while (cursor.MoveNext())
            {
                options.CancellationToken.ThrowIfCancellationRequested();
                get(ref buffer);
                if (buffer.Length == 0 || buffer.Length % perContext != 0)
                    throw new InvalidDataException($"Row {cursor.Position}: context column '{name}' has {buffer.Length} values; expected a positive multiple of {tokens} x {width} = {perContext} (one [T, D] context per caption).");
                var row = new float[buffer.Length];
                buffer.CopyTo(row);
                foreach (float v in row)
                {
                    if (!float.IsFinite(v)) throw new InvalidDataException($"Row {cursor.Position}: context column '{name}' holds {v}.");
                }
                first.Add(captions);
                counts.Add(row.Length / perContext);
                captions += row.Length / perContext;
                rows.Add(row);
            }
        }
        if (first.Count == 0) throw new ArgumentException("The training data has no rows.");
        var values = new float[captions * perContext];
        long offset = 0;
        foreach (var row in rows)
        {
            row.CopyTo(values, offset);
            offset += row.Length;
        }
        var emptyTensor = empty is null ? null : tensor(empty, [tokens, width]);
        return new TrainingContexts(tensor(values, [captions, tokens, width]), tensor(first.ToArray()), tensor(counts.ToArray()), emptyTensor);
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

    /// <summary>One context per row of <paramref name="rows"/> ([B] int64), a caption drawn uniformly from each row's captions.</summary>
    /// <returns>[B, T, D]</returns>
    public Tensor Draw(Tensor rows, Generator random)
    {
        var counts = _counts.index(rows);                                                    // [B]
        var pick = (rand(rows.shape[0], generator: random, dtype: ScalarType.Float64) * counts).floor().to(ScalarType.Int64); // [B] in [0, count)
        var index = _first.index(rows) + pick.minimum(counts - 1);                          // [B]
        return _contexts.index(index);                                                       // [B, T, D]
    }

    public void Dispose()
    {
        _contexts.Dispose();
        _first.Dispose();
        _counts.Dispose();
        EmptyContext?.Dispose();
    }
}
