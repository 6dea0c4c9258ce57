// Reads the trainer's image (and label) columns once, into tensors or into a training store on disk (TrainingStorage), and
// holds them in memory when they fit: the in-memory training set.
using Microsoft.ML;
using Microsoft.ML.Data;
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
    public int ClassCount => ClassNames.Count;
    public IReadOnlyList<string> ClassNames { get; }
    public long Count => Images.shape[0];

    public string Fingerprint { get; }

    private TrainingData(Tensor images, Tensor? labels, int channels, int size, IReadOnlyList<string> classNames, string fingerprint)
    {
        (Images, Labels, Channels, Size, ClassNames, Fingerprint) = (images, labels, channels, size, classNames, fingerprint);
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

    /// <summary>
    /// Reads the image column, and the label column when <paramref name="readLabels"/> (text models read contexts instead),
    /// into memory or, as <paramref name="storage"/> decides, into a training store on disk.
    /// </summary>
    public static ITrainingBatches Read(IDataView data, UViTTrainerOptions options, TrainingStorage storage, bool readLabels = true)
    {
        var (channels, size) = ImageShape(data.Schema, options.ImageColumnName);
        var classNames = readLabels ? LabelClasses(data.Schema, options.LabelColumnName) : null;
        int perImage = channels * size * size;
        var rows = TrainingRows.Images(data, options, perImage, labels: classNames is not null);
        var collected = storage.Collect(rows, "images", [channels, size, size], classNames, rowTable: false);
        if (collected.Store is { } store) return new StoredTrainingData(store);
        var held = collected.Rows!;
        int n = held.Count;
        var pixels = new float[(long)n * perImage];
        for (int i = 0; i < n; i++) held[i].Values.CopyTo(pixels, (long)i * perImage);
        var images = tensor(pixels, [n, channels, size, size]);
        var labelTensor = classNames is null ? null : tensor(held.Select(r => (long)r.Label).ToArray());
        return new TrainingData(images, labelTensor, channels, size, classNames ?? [], collected.Fingerprint);
    }

    /// <summary>The stored rows; deterministic, so <paramref name="random"/> is not drawn from.</summary>
    public (Tensor X0, Tensor? Labels) Batch(Tensor rows, Generator random) => (Images.index(rows), Labels?.index(rows));

    public void Dispose()
    {
        Images.Dispose();
        Labels?.Dispose();
    }
}
