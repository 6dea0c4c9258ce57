// Base of our column-adding transformers: lazy Transform, PredictionEngine support, schema propagation; subclasses
// supply the mapper (validation + computation) and persistence.
using Microsoft.ML;
using Microsoft.ML.Data;

namespace UViT.MLNet.Transforms.Mapping;

/// <summary>An <see cref="ITransformer"/> that adds columns computed by a <see cref="BatchRowMapper{TInput}"/>.</summary>
public abstract class BatchMappingTransformer<TInput> : ITransformer
{
    /// <summary>Builds (and validates against) the mapper for an input schema; throws naming the offending column.</summary>
    protected abstract BatchRowMapper<TInput> CreateMapper(DataViewSchema inputSchema);

    /// <inheritdoc />
    public bool IsRowToRowMapper => true;

    /// <inheritdoc />
    public DataViewSchema GetOutputSchema(DataViewSchema inputSchema) => CreateMapper(inputSchema).OutputSchema;

    /// <inheritdoc />
    public IRowToRowMapper GetRowToRowMapper(DataViewSchema inputSchema) => new RowToRowMapper<TInput>(CreateMapper(inputSchema));

    /// <summary>Returns a lazy view: the added columns are computed batch by batch when a cursor reads them.</summary>
    public IDataView Transform(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        return new MappedDataView<TInput>(input, CreateMapper(input.Schema));
    }

    /// <summary>Writes the transformer into an ML.NET model zip (see Persistence).</summary>
    public abstract void Save(ModelSaveContext ctx);

    void ICanSaveModel.Save(ModelSaveContext ctx) => Save(ctx);
}
