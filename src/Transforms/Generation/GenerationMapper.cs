// Validates a generation input schema and maps batches of (label or context, seed) rows to images: one sampler run per batch.
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Image;
using UViT.MLNet.Core.Diffusion;
using UViT.MLNet.Core.Generation;
using UViT.MLNet.Core.Networks;
using UViT.MLNet.Transforms.Mapping;
using static TorchSharp.torch;

namespace UViT.MLNet.Transforms.Generation;

/// <summary>What one generation row asks for.</summary>
/// <param name="Seed">The row's seed (the sample depends only on it and the label).</param>
/// <param name="Label">0-based class, or null for unconditional and text models.</param>
/// <param name="Context">[T * D] text context (text models), else null.</param>
public readonly record struct GenerationRequest(long Seed, long? Label, float[]? Context = null);

internal sealed class GenerationMapper : BatchRowMapper<GenerationRequest>
{
    private readonly UViTGenerationTransformer _owner;
    private readonly DataViewSchema.Column? _label;
    private readonly bool _labelIsKey;
    private readonly DataViewSchema.Column? _seed;
    private readonly DataViewSchema.Column? _context;
    private readonly int _contextLength;
    private readonly List<AddedColumn> _added = [];
    private readonly IProgress<SamplerProgress>? _progress;
    private readonly CancellationToken _cancellationToken;

    public GenerationMapper(UViTGenerationTransformer owner, DataViewSchema inputSchema, IProgress<SamplerProgress>? progress, CancellationToken cancellationToken) : base(inputSchema)
    {
        (_owner, _progress, _cancellationToken) = (owner, progress, cancellationToken);
        var generator = owner.Generator;
        if (generator.ClassCount > 0)
        {
            _label = inputSchema.GetColumnOrNull(owner.LabelColumnName)
                ?? throw new ArgumentOutOfRangeException(nameof(inputSchema), $"Label column '{owner.LabelColumnName}' not found: this model is class-conditional " +
                                                         $"({generator.ClassCount} classes). Columns present: {string.Join(", ", inputSchema.Select(c => c.Name))}.");
            var type = _label.Value.Type;
            if (type is KeyDataViewType key)
            {
                if ((long)key.Count != generator.ClassCount)
                    throw new ArgumentOutOfRangeException(nameof(inputSchema), $"Label column '{owner.LabelColumnName}' is a key over {key.Count} values but the model has {generator.ClassCount} classes.");
                if (key.RawType != typeof(uint))
                    throw new ArgumentOutOfRangeException(nameof(inputSchema), $"Label column '{owner.LabelColumnName}' must be a UInt32 key; found a {key.RawType.Name} key.");
                _labelIsKey = true;
            }
            else if (!IsInteger(type))
            {
                throw new ArgumentOutOfRangeException(nameof(inputSchema), $"Label column '{owner.LabelColumnName}' must be a key type or an integer class index; found {type}.");
            }
        }
        if (generator.Config.Conditioning == UViTConditioning.TextContext)
        {
            int tokens = generator.Config.NumClipTokens!.Value, width = generator.Config.ClipDim!.Value;
            _contextLength = tokens * width;
            _context = inputSchema.GetColumnOrNull(owner.ContextColumnName)
                ?? throw new ArgumentOutOfRangeException(nameof(inputSchema), $"Context column '{owner.ContextColumnName}' not found: this model is text-conditioned " +
                                                         $"([{tokens}, {width}] contexts, e.g. from EncodeText). Columns present: {string.Join(", ", inputSchema.Select(c => c.Name))}.");
            if (_context.Value.Type is not VectorDataViewType { ItemType: NumberDataViewType } vector || vector.ItemType != NumberDataViewType.Single
                || (vector.IsKnownSize && vector.Size % _contextLength != 0))
                throw new ArgumentOutOfRangeException(nameof(inputSchema), $"Context column '{owner.ContextColumnName}' must be a Vector<Single, {tokens}, {width}> (one prompt per row, " +
                                                                           $"or K captions [K, {tokens}, {width}] of which the first is used); found {_context.Value.Type}.");
        }
        if (inputSchema.GetColumnOrNull(owner.SeedColumnName) is { } seed)
        {
            if (!IsInteger(seed.Type))
                throw new ArgumentOutOfRangeException(nameof(inputSchema), $"Seed column '{owner.SeedColumnName}' must be an integer type; found {seed.Type}.");
            _seed = seed;
        }
        var c = generator.Config;
        _added.Add(new AddedColumn(owner.OutputColumnName, new VectorDataViewType(NumberDataViewType.Single, c.InChannels, c.ImageSize, c.ImageSize)));
        if (owner.HasImageOutput) _added.Add(new AddedColumn(owner.ImageColumnName, new ImageDataViewType(c.ImageSize, c.ImageSize)));
    }

    private static bool IsInteger(DataViewType type) => type.RawType == typeof(int) || type.RawType == typeof(long) || type.RawType == typeof(uint)
                                                        || type.RawType == typeof(ulong) || type.RawType == typeof(short) || type.RawType == typeof(byte);

    public override IReadOnlyList<AddedColumn> AddedColumns => _added;

    public override IReadOnlyList<DataViewSchema.Column> RequiredInputColumns =>
        new[] { _label, _context, _seed }.Where(c => c is not null).Select(c => c!.Value).ToList();

    public override int BatchSize => _owner.BatchSize;

    public override Func<GenerationRequest> CreateInputReader(DataViewRow row)
    {
        Func<long>? readLabel = _label is { } label ? IntegerReader(row, label) : null;
        Func<long>? readSeed = _seed is { } seed ? IntegerReader(row, seed) : null;
        Func<float[]>? readContext = _context is { } context ? ContextReader(row, context) : null;
        return () =>
        {
            long? classIndex = null;
            if (readLabel is not null)
            {
                long raw = readLabel();
                if (_labelIsKey && raw == 0) throw new InvalidOperationException($"Row {row.Position}: label column '{_owner.LabelColumnName}' holds a missing key value.");
                classIndex = _labelIsKey ? raw - 1 : raw;
                if (classIndex < 0 || classIndex >= _owner.Generator.ClassCount)
                    throw new ArgumentOutOfRangeException(_owner.LabelColumnName, $"Row {row.Position}: class {classIndex} is out of range [0, {_owner.Generator.ClassCount - 1}].");
            }
            long seedValue = readSeed is not null ? readSeed() : _owner.BaseSeed + row.Position;
            return new GenerationRequest(seedValue, classIndex, readContext?.Invoke());
        };
    }

    // Reads a row's context: the first [T * D] values (the first caption of multi-caption rows, e.g. training data).
    private Func<float[]> ContextReader(DataViewRow row, DataViewSchema.Column column)
    {
        var getter = row.GetGetter<VBuffer<float>>(column);
        VBuffer<float> buffer = default;
        return () =>
        {
            getter(ref buffer);
            if (buffer.Length == 0 || buffer.Length % _contextLength != 0)
                throw new InvalidDataException($"Row {row.Position}: context column '{column.Name}' has {buffer.Length} values; expected a positive multiple of {_contextLength} (one context per caption).");
            var values = buffer.DenseValues().Take(_contextLength).ToArray();   // the first caption's context
            if (values.Any(v => !float.IsFinite(v))) throw new InvalidDataException($"Row {row.Position}: context column '{column.Name}' holds NaN or infinity.");
            return values;
        };
    }

    private static Func<long> IntegerReader(DataViewRow row, DataViewSchema.Column column)
    {
        var raw = column.Type.RawType;
        if (raw == typeof(int)) { var g = row.GetGetter<int>(column); return () => { int v = 0; g(ref v); return v; }; }
        if (raw == typeof(long)) { var g = row.GetGetter<long>(column); return () => { long v = 0; g(ref v); return v; }; }
        if (raw == typeof(uint)) { var g = row.GetGetter<uint>(column); return () => { uint v = 0; g(ref v); return v; }; }
        if (raw == typeof(ulong)) { var g = row.GetGetter<ulong>(column); return () => { ulong v = 0; g(ref v); return unchecked((long)v); }; }
        if (raw == typeof(short)) { var g = row.GetGetter<short>(column); return () => { short v = 0; g(ref v); return v; }; }
        var b = row.GetGetter<byte>(column);
        return () => { byte v = 0; b(ref v); return v; };
    }

    public override void MapBatch(IReadOnlyList<GenerationRequest> inputs, bool[] active, object?[][] outputs)
    {
        var seeds = inputs.Select(r => r.Seed).ToList();
        using var samples = Generate(inputs, seeds);                                                                      // [B, C, H, W]
        var values = samples.data<float>().ToArray();
        int perSample = values.Length / inputs.Count;
        var c = _owner.Generator.Config;
        for (int i = 0; i < inputs.Count; i++)
        {
            var sample = values.AsSpan(i * perSample, perSample);
            if (active[0])
            {
                var vector = new float[perSample];
                for (int k = 0; k < perSample; k++) vector[k] = PixelRanges.FromModel(sample[k], _owner.OutputRange);
                outputs[i][0] = new VBuffer<float>(perSample, vector);
            }
            if (_added.Count > 1 && active[1]) outputs[i][1] = ImageFromSample(sample, c.InChannels, c.ImageSize);
        }
    }

    private Tensor Generate(IReadOnlyList<GenerationRequest> inputs, IReadOnlyList<long> seeds)
    {
        var generator = _owner.Generator;
        if (_context is null)
        {
            var labels = generator.ClassCount > 0 ? inputs.Select(r => r.Label!.Value).ToList() : null;
            return generator.Generate(seeds, labels, _owner.Settings, _progress, _cancellationToken);
        }
        var c = generator.Config;
        using var contexts = tensor(inputs.SelectMany(r => r.Context!).ToArray(), [inputs.Count, c.NumClipTokens!.Value, c.ClipDim!.Value]); // [B, T, D]
        return generator.GenerateFromContext(seeds, contexts, _owner.Settings, _progress, _cancellationToken);
    }

    /// <summary>A planar [C, S, S] sample in [-1, 1] as an RGBA image (one channel = grey).</summary>
    internal static MLImage ImageFromSample(ReadOnlySpan<float> sample, int channels, int size) => PlanarImages.ToImage(sample, channels, size, size);
}
