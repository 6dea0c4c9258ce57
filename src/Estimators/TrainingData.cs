// Reads the trainer's input columns once into tensors, validating types, sizes and values on the way.
using Microsoft.ML;
using Microsoft.ML.Data;
using UViT.MLNet.Transforms.Generation;
using static TorchSharp.torch;

namespace UViT.MLNet.Estimators;

/// <summary>The training set in model space: images [N, C, S, S] in [-1, 1] and optional 0-based labels [N].</summary>
internal sealed class TrainingData : ITrainingBatches
{
    public Tensor Images { get; }
    public Tensor? Labels { get; }
    public int Channels { get; }
    public int Size { get; }
    /// <summary>Number of classes (key cardinality) or 0 without labels.</summary>
    public int ClassCount { get; }
    public IReadOnlyList<string> ClassNames { get; }
    public long Count => Images.shape[0];

    private TrainingData(Tensor images, Tensor? labels, int channels, int size, int classCount, IReadOnlyList<string> classNames)
    {
        (Images, Labels, Channels, Size, ClassCount, ClassNames) = (images, labels, channels, size, classCount, classNames);
    }

    /// <summary>The (C, S) an image column describes, or an exception naming the column and the type found.</summary>
    public static (int Channels, int Size) ImageShape(DataViewSchema schema, string column)
    {
        var found = schema.GetColumnOrNull(column)
            ?? throw new ArgumentOutOfRangeException(nameof(column), $"Image column '{column}' not found. Columns present: {string.Join(", ", schema.Select(c => c.Name))}.");
        if (found.Type is not VectorDataViewType { ItemType: NumberDataViewType } vector || vector.ItemType != NumberDataViewType.Single)
            throw new ArgumentOutOfRangeException(nameof(column), $"Image column '{column}' must be a Vector<Single, C, H, W> (e.g. from ExtractPixels); found {found.Type}.");
        var dims = vector.Dimensions;
        if (dims.Length != 3 || dims.Any(d => d <= 0))
            throw new ArgumentOutOfRangeException(nameof(column), $"Image column '{column}' must have known dimensions [C, H, W]; found [{string.Join(", ", dims)}] (size {vector.Size}). " +
                                                                  "Use ExtractPixels (planar), or declare the dimensions with VectorType(C, H, W).");
        if (dims[1] != dims[2])
            throw new ArgumentOutOfRangeException(nameof(column), $"Image column '{column}' holds {dims[1]}x{dims[2]} images; U-ViT needs square images (resize with ResizeImages).");
        return (dims[0], dims[1]);
    }

    /// <summary>The class names of a key-typed label column (its key values, or "0".."K-1"), or null when the column is absent.</summary>
    public static IReadOnlyList<string>? LabelClasses(DataViewSchema schema, string column)
    {
        if (schema.GetColumnOrNull(column) is not { } label) return null;
        if (label.Type is not KeyDataViewType key || key.RawType != typeof(uint))
            throw new ArgumentOutOfRangeException(nameof(column), $"Label column '{column}' must be a UInt32 key type; found {label.Type}. " +
                                                                  "Convert it with mlContext.Transforms.Conversion.MapValueToKey.");
        int count = checked((int)key.Count);
        if (count < 1) throw new ArgumentOutOfRangeException(nameof(column), $"Label column '{column}' is a key with unknown cardinality.");
        var names = Enumerable.Range(0, count).Select(i => i.ToString()).ToArray();
        if (label.HasKeyValues())
        {
            VBuffer<ReadOnlyMemory<char>> values = default;
            label.GetKeyValues(ref values);
            var dense = values.DenseValues().Select(v => v.ToString()).ToArray();
            if (dense.Length == count) names = dense;
        }
        return names;
    }

    /// <summary>Reads the image column, and the label column when <paramref name="readLabels"/> (text models read contexts instead).</summary>
    public static TrainingData Read(IDataView data, UViTTrainerOptions options, bool readLabels = true)
    {
        var (channels, size) = ImageShape(data.Schema, options.ImageColumnName);
        var classNames = readLabels ? LabelClasses(data.Schema, options.LabelColumnName) : null;
        var imageColumn = data.Schema[options.ImageColumnName];
        var columns = new List<DataViewSchema.Column> { imageColumn };
        if (classNames is not null) columns.Add(data.Schema[options.LabelColumnName]);
        var (scale, offset) = PixelRanges.ToModel(options.InputRange);
        int perImage = channels * size * size;
        var rows = new List<float[]>();   // one array per image: no per-value list growth or enumerator on the hot path
        var labels = new List<long>();
        using (var cursor = data.GetRowCursor(columns))
        {
            var getImage = cursor.GetGetter<VBuffer<float>>(imageColumn);
            ValueGetter<uint>? getLabel = classNames is null ? null : cursor.GetGetter<uint>(data.Schema[options.LabelColumnName]);
            VBuffer<float> image = default;
            uint key = 0;
            while (cursor.MoveNext())
            {
                options.CancellationToken.ThrowIfCancellationRequested();
                getImage(ref image);
                if (image.Length != perImage)
                    throw new InvalidDataException($"Row {cursor.Position}: image column '{options.ImageColumnName}' has {image.Length} values; expected {perImage}.");
                var row = new float[perImage];
                image.CopyTo(row);
                for (int k = 0; k < row.Length; k++)
                {
                    float v = row[k];
                    if (!float.IsFinite(v)) throw new InvalidDataException($"Row {cursor.Position}: image column '{options.ImageColumnName}' holds {v}.");
                    row[k] = v * scale + offset;
                }
                rows.Add(row);
                if (getLabel is not null)
                {
                    getLabel(ref key);
                    if (key == 0) throw new InvalidDataException($"Row {cursor.Position}: label column '{options.LabelColumnName}' is missing (key value 0).");
                    labels.Add(key - 1);
                }
            }
        }
        int n = rows.Count;
        if (n == 0) throw new ArgumentException("The training data has no rows.");
        var pixels = new float[(long)n * perImage];
        for (int i = 0; i < n; i++) rows[i].CopyTo(pixels, (long)i * perImage);
        var images = tensor(pixels, [n, channels, size, size]);
        // A range check catches a wrong InputRange for pixels; Symmetric values pass unchanged and may be latents
        // (roughly unit variance, not bounded by 1), so they are not checked.
        double low = images.min().item<float>(), high = images.max().item<float>();
        if (options.InputRange != PixelRange.Symmetric && (low < -1.5 || high > 1.5))
            throw new InvalidDataException($"Image values map to [{low:F2}, {high:F2}] in model space, far outside [-1, 1]: is InputRange ({options.InputRange}) right for column '{options.ImageColumnName}'?");
        var labelTensor = classNames is null ? null : tensor(labels.ToArray());
        return new TrainingData(images, labelTensor, channels, size, classNames?.Count ?? 0, classNames ?? []);
    }

    /// <summary>The stored rows; deterministic, so <paramref name="random"/> is not drawn from.</summary>
    public (Tensor X0, Tensor? Labels) Batch(Tensor rows, Generator random) => (Images.index(rows), Labels?.index(rows));

    public void Dispose()
    {
        Images.Dispose();
        Labels?.Dispose();
    }
}
