// Validates an EncodeText input schema and maps batches of texts to contexts: all texts of a mini-batch (every caption of
// every row) go through the encoder in chunks of BatchSize.
using Microsoft.ML;
using Microsoft.ML.Data;
using UViT.MLNet.Transforms.Mapping;
using static TorchSharp.torch;

namespace UViT.MLNet.Transforms.Text;

internal sealed class TextEncodingMapper : BatchRowMapper<string[]>
{
    private readonly TextEncodingTransformer _owner;
    private readonly DataViewSchema.Column _text;
    private readonly bool _isVector;
    private readonly AddedColumn[] _added;

    public TextEncodingMapper(TextEncodingTransformer owner, DataViewSchema inputSchema) : base(inputSchema)
    {
        _owner = owner;
        string name = owner.Options.InputColumnName;
        _text = inputSchema.GetColumnOrNull(name)
            ?? throw new ArgumentOutOfRangeException(nameof(inputSchema), $"Text column '{name}' not found. Columns present: {string.Join(", ", inputSchema.Select(c => c.Name))}.");
        int t = owner.ContextLength, d = owner.ContextDim;
        VectorDataViewType output;
        if (_text.Type is TextDataViewType)
        {
            output = new VectorDataViewType(NumberDataViewType.Single, t, d);
        }
        else if (_text.Type is VectorDataViewType { ItemType: TextDataViewType } captions)
        {
            _isVector = true;
            output = captions.IsKnownSize ? new VectorDataViewType(NumberDataViewType.Single, captions.Size, t, d) : new VectorDataViewType(NumberDataViewType.Single);
        }
        else
        {
            throw new ArgumentOutOfRangeException(nameof(inputSchema), $"Text column '{name}' must hold text (one prompt) or a vector of text (several captions); found {_text.Type}.");
        }
        _added = [new AddedColumn(owner.Options.OutputColumnName, output, TextContextAnnotation.Create(owner.EmptyContext))];
    }

    public override IReadOnlyList<AddedColumn> AddedColumns => _added;

    public override IReadOnlyList<DataViewSchema.Column> RequiredInputColumns => [_text];

    public override int BatchSize => _owner.Options.BatchSize;

    public override Func<string[]> CreateInputReader(DataViewRow row)
    {
        if (!_isVector)
        {
            var getText = row.GetGetter<ReadOnlyMemory<char>>(_text);
            ReadOnlyMemory<char> text = default;
            return () =>
            {
                getText(ref text);
                return [text.ToString()];
            };
        }
        var getTexts = row.GetGetter<VBuffer<ReadOnlyMemory<char>>>(_text);
        VBuffer<ReadOnlyMemory<char>> texts = default;
        return () =>
        {
            getTexts(ref texts);
            var values = texts.DenseValues().Select(v => v.ToString()).ToArray();
            if (values.Length == 0) throw new InvalidDataException($"Row {row.Position}: text column '{_text.Name}' holds no captions.");
            return values;
        };
    }

    public override void MapBatch(IReadOnlyList<string[]> inputs, bool[] active, object?[][] outputs)
    {
        if (!active[0]) return;
        var texts = inputs.SelectMany(r => r).ToList();
        int perText = _owner.ContextLength * _owner.ContextDim;
        var values = new float[texts.Count * perText];
        for (int start = 0; start < texts.Count; start += _owner.Options.BatchSize)
        {
            int count = Math.Min(_owner.Options.BatchSize, texts.Count - start);
            using var contexts = _owner.Encoder.Encode(texts.GetRange(start, count));             // [n, T, D]
            using var onCpu = contexts.to(ScalarType.Float32).cpu().contiguous();
            onCpu.data<float>().CopyTo(values, start * perText);
        }
        int offset = 0;
        for (int i = 0; i < inputs.Count; i++)
        {
            int length = inputs[i].Length * perText;
            outputs[i][0] = new VBuffer<float>(length, values.AsSpan(offset, length).ToArray());
            offset += length;
        }
    }
}
