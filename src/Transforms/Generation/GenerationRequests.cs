// Conveniences around the generation transformer: the request rows it reads (with the label key sized to the model, which
// is easy to get wrong by hand: ML.NET stores a POCO key value v as key v + 1) and the images it writes.
using Microsoft.ML;
using Microsoft.ML.Data;

namespace UViT.MLNet.Transforms.Generation;

/// <summary>Builds generation requests for a <see cref="UViTGenerationTransformer"/> and reads its outputs.</summary>
public static class GenerationRequests
{
    private sealed class ClassRequest
    {
        public uint Label { get; set; }
        public long Seed { get; set; }
    }

    private sealed class SeedRequest
    {
        public long Seed { get; set; }
    }

    /// <summary>
    /// Rows of (class, seed) for a class-conditional model: a key-typed label column over the model's classes (named as the
    /// model expects) and a seed column. Classes are 0-based.
    /// </summary>
    /// <exception cref="ArgumentException">The model is not class-conditional.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A class is outside [0, ClassCount).</exception>
    public static IDataView CreateRequests(this UViTGenerationTransformer generator, MLContext mlContext, IEnumerable<(int Class, long Seed)> rows)
    {
        int classes = generator.Generator.ClassCount;
        if (classes == 0) throw new ArgumentException("This model is not class-conditional; pass seeds only.", nameof(rows));
        var list = rows.Select(r => r.Class >= 0 && r.Class < classes
            ? new ClassRequest { Label = (uint)r.Class, Seed = r.Seed }
            : throw new ArgumentOutOfRangeException(nameof(rows), $"Class {r.Class} is outside [0, {classes - 1}].")).ToList();
        var schema = SchemaDefinition.Create(typeof(ClassRequest));
        schema[nameof(ClassRequest.Label)].ColumnName = generator.LabelColumnName;
        schema[nameof(ClassRequest.Label)].ColumnType = new KeyDataViewType(typeof(uint), classes);
        schema[nameof(ClassRequest.Seed)].ColumnName = generator.SeedColumnName;
        return mlContext.Data.LoadFromEnumerable(list, schema);
    }

    /// <summary>Rows of seeds for an unconditional model (text models read a context column: see EncodeText).</summary>
    public static IDataView CreateRequests(this UViTGenerationTransformer generator, MLContext mlContext, IEnumerable<long> seeds)
    {
        var schema = SchemaDefinition.Create(typeof(SeedRequest));
        schema[nameof(SeedRequest.Seed)].ColumnName = generator.SeedColumnName;
        return mlContext.Data.LoadFromEnumerable(seeds.Select(s => new SeedRequest { Seed = s }).ToList(), schema);
    }

    /// <summary>
    /// The columns generation requests for <paramref name="model"/> have (a generator alone, or a chain that holds one): the
    /// key-typed label over the model's classes (class models), the prompt text column of the chain's EncodeText stage or the
    /// Vector&lt;Single, T, D&gt; context column (text models), and the Int64 seed. Save a model zip with this schema
    /// (<c>mlContext.Model.Save(model, model.GenerationRequestSchema(), path)</c>) so that <c>Model.Load(path, out schema)</c>
    /// tells its users what to generate from, not what it was trained on.
    /// </summary>
    /// <exception cref="ArgumentException">The model holds no U-ViT generation transformer.</exception>
    public static DataViewSchema GenerationRequestSchema(this ITransformer model)
    {
        ArgumentNullException.ThrowIfNull(model);
        var stages = model is IEnumerable<ITransformer> chain ? chain.ToList() : [model];
        var generator = stages.OfType<UViTGenerationTransformer>().LastOrDefault()
            ?? throw new ArgumentException($"The model is a {model.GetType().Name} holding no U-ViT generation transformer.", nameof(model));
        var config = generator.Generator.Config;
        var builder = new DataViewSchema.Builder();
        if (generator.Generator.ClassCount > 0)
            builder.AddColumn(generator.LabelColumnName, new KeyDataViewType(typeof(uint), generator.Generator.ClassCount));
        if (stages.OfType<Text.TextEncodingTransformer>().FirstOrDefault() is { } text)
            builder.AddColumn(text.Options.InputColumnName, TextDataViewType.Instance);
        else if (config.Conditioning == Core.Networks.UViTConditioning.TextContext)
            builder.AddColumn(generator.ContextColumnName, new VectorDataViewType(NumberDataViewType.Single, config.NumClipTokens!.Value, config.ClipDim!.Value));
        builder.AddColumn(generator.SeedColumnName, NumberDataViewType.Int64);
        return builder.ToSchema();
    }

    /// <summary>Every MLImage of an image column (e.g. "GeneratedImage" or DecodeLatents' "DecodedImage"), row after row.</summary>
    public static List<MLImage> ReadImages(this IDataView view, string column = "GeneratedImage")
    {
        var found = Column(view, column, nameof(column));
        var images = new List<MLImage>();
        using var cursor = view.GetRowCursor([found]);
        var getter = cursor.GetGetter<MLImage>(found);
        MLImage image = null!;
        while (cursor.MoveNext())
        {
            getter(ref image);
            images.Add(image);
        }
        return images;
    }

    /// <summary>Every value of a vector column (e.g. "GeneratedPixels"), row after row.</summary>
    public static List<float[]> ReadVectors(this IDataView view, string column = "GeneratedPixels")
    {
        var found = Column(view, column, nameof(column));
        var rows = new List<float[]>();
        using var cursor = view.GetRowCursor([found]);
        var getter = cursor.GetGetter<VBuffer<float>>(found);
        VBuffer<float> value = default;
        while (cursor.MoveNext())
        {
            getter(ref value);
            rows.Add(value.DenseValues().ToArray());
        }
        return rows;
    }

    /// <summary>
    /// Every row's pixels (a vector column) and, when <paramref name="imageColumn"/> is not null, its MLImage, read in one pass:
    /// a generated view is lazy, so reading it twice (<see cref="ReadImages"/>, then <see cref="ReadVectors"/>) would sample twice.
    /// </summary>
    public static List<(MLImage? Image, float[] Pixels)> ReadGenerated(this IDataView view, string pixelColumn = UViTColumns.GeneratedPixels,
                                                                        string? imageColumn = UViTColumns.GeneratedImage)
    {
        var pixels = Column(view, pixelColumn, nameof(pixelColumn));
        DataViewSchema.Column? image = imageColumn is null ? null : Column(view, imageColumn, nameof(imageColumn));
        var rows = new List<(MLImage?, float[])>();
        using var cursor = view.GetRowCursor(image is { } i ? [pixels, i] : [pixels]);
        var getPixels = cursor.GetGetter<VBuffer<float>>(pixels);
        var getImage = image is { } column ? cursor.GetGetter<MLImage>(column) : null;
        VBuffer<float> buffer = default;
        while (cursor.MoveNext())
        {
            MLImage current = null!;
            getImage?.Invoke(ref current);
            getPixels(ref buffer);
            rows.Add((getImage is null ? null : current, buffer.DenseValues().ToArray()));
        }
        return rows;
    }

    private static DataViewSchema.Column Column(IDataView view, string name, string parameter) => view.Schema.GetColumnOrNull(name)
        ?? throw new ArgumentOutOfRangeException(parameter, $"Column '{name}' not found. Columns present: {string.Join(", ", view.Schema.Select(c => c.Name))}.");
}
