// Reads IDX files (the MNIST format: big-endian header, uint8 payload, optionally gzip-compressed) into an IDataView
// with an image vector column and a key-typed label column, ready for the U-ViT trainer.
using System.Buffers.Binary;
using System.IO.Compression;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace UViT.MLNet.Samples;

/// <summary>Images and labels read from an IDX pair (e.g. MNIST's images-idx3-ubyte.gz / labels-idx1-ubyte.gz).</summary>
public sealed class IdxImageDataset
{
    /// <summary>Pixels, row-major per image, 0-255.</summary>
    public byte[] Pixels { get; }
    /// <summary>Labels (0-based), one per image.</summary>
    public byte[] Labels { get; }
    public int Count { get; }
    public int Height { get; }
    public int Width { get; }

    private IdxImageDataset(byte[] pixels, byte[] labels, int count, int height, int width)
    {
        (Pixels, Labels, Count, Height, Width) = (pixels, labels, count, height, width);
    }

    /// <summary>Reads an image file (magic 0x00000803) and a label file (0x00000801); ".gz" files are decompressed.</summary>
    /// <param name="limit">Read at most this many images (the first ones).</param>
    public static IdxImageDataset Read(string imagesPath, string labelsPath, int? limit = null)
    {
        byte[] images = ReadAll(imagesPath), labels = ReadAll(labelsPath);
        Check(images.Length >= 16 && BinaryPrimitives.ReadInt32BigEndian(images) == 0x803, imagesPath, "is not an IDX image file (magic 0x00000803)");
        Check(labels.Length >= 8 && BinaryPrimitives.ReadInt32BigEndian(labels) == 0x801, labelsPath, "is not an IDX label file (magic 0x00000801)");
        int count = BinaryPrimitives.ReadInt32BigEndian(images.AsSpan(4));
        int height = BinaryPrimitives.ReadInt32BigEndian(images.AsSpan(8)), width = BinaryPrimitives.ReadInt32BigEndian(images.AsSpan(12));
        int labelCount = BinaryPrimitives.ReadInt32BigEndian(labels.AsSpan(4));
        Check(count >= 0 && height >= 0 && width >= 0, imagesPath, $"has a damaged header ({count} images of {height}x{width})");
        Check(labelCount >= 0, labelsPath, $"has a damaged header ({labelCount} labels)");
        Check(limit is null or >= 0, imagesPath, $"cannot be read with a negative limit ({limit})");
        Check(count == labelCount, labelsPath, $"holds {labelCount} labels for {count} images in '{imagesPath}'");
        Check((long)height * width <= images.Length, imagesPath, $"is damaged: one {height}x{width} image is larger than the whole file ({images.Length} bytes)");
        Check(images.Length >= 16 + (long)count * height * width, imagesPath, $"is truncated: {count} images of {height}x{width} need {16 + (long)count * height * width} bytes, found {images.Length}");
        Check(labels.Length >= 8 + count, labelsPath, $"is truncated: {count} labels need {8 + count} bytes, found {labels.Length}");
        int n = Math.Min(count, limit ?? count);
        return new IdxImageDataset(images.AsSpan(16, n * height * width).ToArray(), labels.AsSpan(8, n).ToArray(), n, height, width);
    }

    /// <summary>Number of classes (max label + 1).</summary>
    public int ClassCount => Labels.Length == 0 ? 0 : Labels.Max() + 1;

    /// <summary>
    /// An IDataView with <paramref name="imageColumn"/> = Vector&lt;Single, 1, H, W&gt; (0-255, as ExtractPixels gives) and
    /// <paramref name="labelColumn"/> = a key over the digit names "0".."K-1".
    /// </summary>
    public IDataView ToDataView(MLContext mlContext, string imageColumn = "Image", string labelColumn = "Label")
    {
        int pixels = Height * Width;
        var rows = Enumerable.Range(0, Count).Select(i => new Row
        {
            Image = Pixels.AsSpan(i * pixels, pixels).ToArray().Select(b => (float)b).ToArray(),
            Label = Labels[i],
        });
        var schema = SchemaDefinition.Create(typeof(Row));
        schema[nameof(Row.Image)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, 1, Height, Width);
        schema[nameof(Row.Image)].ColumnName = imageColumn;
        int classes = ClassCount;
        var keyType = new KeyDataViewType(typeof(uint), classes);
        schema[nameof(Row.Label)].ColumnType = keyType;
        schema[nameof(Row.Label)].ColumnName = labelColumn;
        var names = new VBuffer<ReadOnlyMemory<char>>(classes, Enumerable.Range(0, classes).Select(c => c.ToString().AsMemory()).ToArray());
        schema[nameof(Row.Label)].AddAnnotation("KeyValues", names, new VectorDataViewType(TextDataViewType.Instance, classes));
        return mlContext.Data.LoadFromEnumerable(rows, schema);
    }

    private sealed class Row
    {
        public float[] Image { get; set; } = [];
        public uint Label { get; set; }   // 0-based class; ML.NET stores a POCO key value v as key v + 1 (0 = missing)
    }

    private static byte[] ReadAll(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"IDX file '{path}' does not exist.", path);
        using var file = File.OpenRead(path);
        using Stream stream = path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase) ? new GZipStream(file, CompressionMode.Decompress) : file;
        using var copy = new MemoryStream();
        try { stream.CopyTo(copy); }
        catch (InvalidDataException e) { throw new InvalidDataException($"'{path}' is not a valid gzip file: {e.Message}", e); }
        return copy.ToArray();
    }

    private static void Check(bool ok, string path, string problem)
    {
        if (!ok) throw new InvalidDataException($"'{path}' {problem}.");
    }
}
