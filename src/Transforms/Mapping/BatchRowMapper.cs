// The contract our transformers implement to add columns to an IDataView computed a mini-batch at a time
// (one network forward per batch), while every input column passes through unchanged.
using Microsoft.ML;
using Microsoft.ML.Data;

namespace UViT.MLNet.Transforms.Mapping;

/// <summary>A column a mapper adds, with optional annotations (metadata travelling with the column downstream).</summary>
public sealed record AddedColumn(string Name, DataViewType Type, DataViewSchema.Annotations? Annotations = null);

/// <summary>
/// Maps batches of input rows to added output columns. <typeparamref name="TInput"/> is what the mapper needs from one
/// row (copied out of the row, since getters reuse buffers). Implementations are created per input schema and
/// validate it in their constructor, throwing with the column name and the type found.
/// </summary>
public abstract class BatchRowMapper<TInput>
{
    protected BatchRowMapper(DataViewSchema inputSchema)
    {
        InputSchema = inputSchema;
    }

    /// <summary>The schema of the rows this mapper reads.</summary>
    public DataViewSchema InputSchema { get; }

    /// <summary>The columns this mapper adds (after all input columns; an added name hides an input column of that name).</summary>
    public abstract IReadOnlyList<AddedColumn> AddedColumns { get; }

    /// <summary>Input columns the added columns depend on.</summary>
    public abstract IReadOnlyList<DataViewSchema.Column> RequiredInputColumns { get; }

    /// <summary>Rows per forward pass.</summary>
    public abstract int BatchSize { get; }

    /// <summary>Binds the getters of <paramref name="row"/> once; the returned function copies the current row's inputs.</summary>
    public abstract Func<TInput> CreateInputReader(DataViewRow row);

    /// <summary>
    /// Computes the added columns for <paramref name="inputs"/>: <c>outputs[i][j]</c> is the value of added column j for
    /// row i (<see cref="VBuffer{T}"/> for vectors, the object itself for reference types such as MLImage).
    /// Only the added columns in <paramref name="active"/> need computing.
    /// </summary>
    public abstract void MapBatch(IReadOnlyList<TInput> inputs, bool[] active, object?[][] outputs);

    /// <summary>Input columns plus added columns (added ones hide input columns with the same name).</summary>
    public DataViewSchema OutputSchema
    {
        get
        {
            var builder = new DataViewSchema.Builder();
            builder.AddColumns(InputSchema);
            foreach (var column in AddedColumns) builder.AddColumn(column.Name, column.Type, column.Annotations);
            return builder.ToSchema();
        }
    }
}
