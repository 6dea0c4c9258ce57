// A cursor that reads up to BatchSize input rows ahead, maps them in one call, then serves them one by one.
using Microsoft.ML;
using Microsoft.ML.Data;

namespace UViT.MLNet.Transforms.Mapping;

internal sealed class MappedCursor<TInput> : DataViewRowCursor
{
    private readonly DataViewRowCursor _input;
    private readonly BatchRowMapper<TInput> _mapper;
    private readonly int _inputCount;
    private readonly bool[] _activeOutputs;
    private readonly bool _anyAddedActive;
    private readonly Func<TInput>? _readInput;
    private readonly Dictionary<int, ColumnSnapshot> _snapshots = [];
    private readonly ValueGetter<DataViewRowId> _inputId;
    private readonly List<DataViewRowId> _ids = [];
    private readonly List<TInput> _batch = [];
    private object?[][] _outputs = [];
    private int _rowInBatch = -1;
    private long _position = -1;
    private bool _inputDone;

    public MappedCursor(IDataView source, BatchRowMapper<TInput> mapper, DataViewSchema schema, IEnumerable<DataViewSchema.Column> columnsNeeded)
    {
        _mapper = mapper;
        Schema = schema;
        _inputCount = mapper.InputSchema.Count;
        _activeOutputs = new bool[schema.Count];
        foreach (var column in columnsNeeded) _activeOutputs[column.Index] = true;
        _anyAddedActive = _activeOutputs.Skip(_inputCount).Any(a => a);

        var inputNeeded = Enumerable.Range(0, _inputCount).Where(i => _activeOutputs[i]).Select(i => mapper.InputSchema[i]);
        if (_anyAddedActive) inputNeeded = inputNeeded.Concat(mapper.RequiredInputColumns);
        _input = source.GetRowCursor(inputNeeded.DistinctBy(c => c.Index).ToList());
        _inputId = _input.GetIdGetter();
        if (_anyAddedActive)
        {
            _readInput = mapper.CreateInputReader(_input);
            for (int i = 0; i < _inputCount; i++)
            {
                if (_activeOutputs[i]) _snapshots[i] = ColumnSnapshot.For(_input, mapper.InputSchema[i]);
            }
        }
    }

    public override DataViewSchema Schema { get; }
    public override long Position => _position;
    public override long Batch => 0;

    public override bool IsColumnActive(DataViewSchema.Column column) => _activeOutputs[column.Index];

    public override bool MoveNext()
    {
        if (!_anyAddedActive)
        {
            if (!_input.MoveNext()) return false;
            _position++;
            return true;
        }
        if (_rowInBatch + 1 < _batch.Count)
        {
            _rowInBatch++;
            _position++;
            return true;
        }
        if (_inputDone) return false;
        FillBatch();
        if (_batch.Count == 0) return false;
        _rowInBatch = 0;
        _position++;
        return true;
    }

    private void FillBatch()
    {
        _batch.Clear();
        _ids.Clear();
        foreach (var snapshot in _snapshots.Values) snapshot.Clear();
        while (_batch.Count < _mapper.BatchSize)
        {
            if (!_input.MoveNext()) { _inputDone = true; break; }
            _batch.Add(_readInput!());
            DataViewRowId id = default;
            _inputId(ref id);
            _ids.Add(id);
            foreach (var snapshot in _snapshots.Values) snapshot.Capture();
        }
        if (_batch.Count == 0) return;
        var active = _activeOutputs.Skip(_inputCount).ToArray();
        _outputs = new object?[_batch.Count][];
        for (int i = 0; i < _outputs.Length; i++) _outputs[i] = new object?[_mapper.AddedColumns.Count];
        _mapper.MapBatch(_batch, active, _outputs);
    }

    public override ValueGetter<DataViewRowId> GetIdGetter()
    {
        if (!_anyAddedActive) return _inputId;
        return (ref DataViewRowId value) => value = _ids[_rowInBatch];
    }

    public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
    {
        if (!_activeOutputs[column.Index]) throw new InvalidOperationException($"Column '{column.Name}' is not active in this cursor.");
        if (column.Index < _inputCount)
        {
            if (!_anyAddedActive) return _input.GetGetter<TValue>(_mapper.InputSchema[column.Index]);
            return (ValueGetter<TValue>)_snapshots[column.Index].Getter(() => _rowInBatch);
        }
        int added = column.Index - _inputCount;
        return OutputGetter<TValue>(added, () => _outputs[_rowInBatch][added]);
    }

    /// <summary>A getter over computed values: vectors are copied into the caller's buffer, other values are handed out.</summary>
    internal static ValueGetter<TValue> OutputGetter<TValue>(int added, Func<object?> current)
    {
        if (typeof(TValue) == typeof(VBuffer<float>))
        {
            ValueGetter<VBuffer<float>> vector = (ref VBuffer<float> value) => ((VBuffer<float>)current()!).CopyTo(ref value);
            return (ValueGetter<TValue>)(Delegate)vector;
        }
        return (ref TValue value) => value = (TValue)current()!;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing) _input.Dispose();
        base.Dispose(disposing);
    }
}
