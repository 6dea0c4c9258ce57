// The lazy IDataView a batch-mapping transformer returns: nothing is computed until a cursor asks for an added column.
using Microsoft.ML;

namespace UViT.MLNet.Transforms.Mapping;

internal sealed class MappedDataView<TInput>(IDataView source, BatchRowMapper<TInput> mapper) : IDataView
{
    public bool CanShuffle => false;

    public DataViewSchema Schema { get; } = mapper.OutputSchema;

    public long? GetRowCount() => source.GetRowCount();

    public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null)
        => new MappedCursor<TInput>(source, mapper, Schema, columnsNeeded);

    // One cursor: batches must stay whole (one forward per batch) and in order (row seeds make results order-free anyway).
    public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null)
        => [GetRowCursor(columnsNeeded, rand)];
}
