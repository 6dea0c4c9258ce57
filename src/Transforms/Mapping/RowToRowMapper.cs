// IRowToRowMapper over a batch mapper, for PredictionEngine: each row is mapped as a batch of one, once per position.
using Microsoft.ML;
using Microsoft.ML.Data;

namespace UViT.MLNet.Transforms.Mapping;

internal sealed class RowToRowMapper<TInput>(BatchRowMapper<TInput> mapper) : IRowToRowMapper
{
    public DataViewSchema InputSchema => mapper.InputSchema;

    public DataViewSchema OutputSchema { get; } = mapper.OutputSchema;

    public IEnumerable<DataViewSchema.Column> GetDependencies(IEnumerable<DataViewSchema.Column> dependingColumns)
    {
        int inputCount = mapper.InputSchema.Count;
        var columns = dependingColumns.ToList();
        var needed = columns.Where(c => c.Index < inputCount).Select(c => mapper.InputSchema[c.Index]);
        if (columns.Any(c => c.Index >= inputCount)) needed = needed.Concat(mapper.RequiredInputColumns);
        return needed.DistinctBy(c => c.Index).ToList();
    }

    public DataViewRow GetRow(DataViewRow input, IEnumerable<DataViewSchema.Column> activeColumns) =>
        new MappedRow(input, mapper, OutputSchema, activeColumns);

    private sealed class MappedRow : DataViewRow
    {
        private readonly DataViewRow _input;
        private readonly BatchRowMapper<TInput> _mapper;
        private readonly bool[] _active;
        private readonly Func<TInput>? _read;
        private object?[]? _values;
        private long _computedAt = -1;

        public MappedRow(DataViewRow input, BatchRowMapper<TInput> mapper, DataViewSchema schema, IEnumerable<DataViewSchema.Column> activeColumns)
        {
            _input = input;
            _mapper = mapper;
            Schema = schema;
            _active = new bool[schema.Count];
            foreach (var column in activeColumns) _active[column.Index] = true;
            if (_active.Skip(mapper.InputSchema.Count).Any(a => a)) _read = mapper.CreateInputReader(input);
        }

        public override DataViewSchema Schema { get; }
        public override long Position => _input.Position;
        public override long Batch => _input.Batch;
        public override ValueGetter<DataViewRowId> GetIdGetter() => _input.GetIdGetter();
        public override bool IsColumnActive(DataViewSchema.Column column) => _active[column.Index];

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
        {
            int inputCount = _mapper.InputSchema.Count;
            if (column.Index < inputCount) return _input.GetGetter<TValue>(_mapper.InputSchema[column.Index]);
            int added = column.Index - inputCount;
            return MappedCursor<TInput>.OutputGetter<TValue>(added, () => Current()[added]);
        }

        private object?[] Current()
        {
            if (_values is null || _computedAt != _input.Position)
            {
                var outputs = new[] { new object?[_mapper.AddedColumns.Count] };
                _mapper.MapBatch([_read!()], _active.Skip(_mapper.InputSchema.Count).ToArray(), outputs);
                _values = outputs[0];
                _computedAt = _input.Position;
            }
            return _values;
        }
    }
}
