using Microsoft.ML;
using Microsoft.ML.Data;
using UViT.MLNet.Transforms.Generation;
using UViT.MLNet.Transforms.Persistence;

namespace UViT.MLNet.Cli.Commands;

/// <summary>Generation steps shared by <c>train</c> and <c>sample</c>.</summary>
internal static class GenerationHelpers
{
    /// <summary>A saved model zip, with a missing or unreadable file reported as bad input.</summary>
    public static ITransformer LoadModel(MLContext mlContext, string path) => mlContext.LoadChecked(path, out _);

    /// <summary>The U-ViT generation transformer in a loaded model (alone or at the end of a chain).</summary>
    public static UViTGenerationTransformer FindGenerator(ITransformer model) => model switch
    {
        UViTGenerationTransformer generator => generator,
        IEnumerable<ITransformer> chain => chain.OfType<UViTGenerationTransformer>().LastOrDefault()
            ?? throw new ArgumentException("The model holds no U-ViT generation transformer."),
        _ => throw new ArgumentException($"The model is a {model.GetType().Name}, not a U-ViT generator."),
    };

    /// <summary>
    /// Generates <paramref name="perClass"/> images of every class (one grid row per class), saves the PNG grid, and returns
    /// each image's class and pixels (in the model's output range).
    /// </summary>
    public static List<(int Class, float[] Pixels)> WriteClassGrid(MLContext mlContext, UViTGenerationTransformer generator, string path, int perClass, long baseSeed)
    {
        if (perClass is < 1 or > 1000) throw new ArgumentException($"--per-class must lie in [1, 1000]; got {perClass}.");
        int classes = Math.Max(1, generator.Generator.ClassCount);
        var rows = Enumerable.Range(0, classes).SelectMany(c => Enumerable.Range(0, perClass).Select(i => new Request { Label = (uint)c, Seed = baseSeed + c * perClass + i })).ToList();
        var schema = SchemaDefinition.Create(typeof(Request));
        if (generator.Generator.ClassCount > 0) schema[nameof(Request.Label)].ColumnType = new KeyDataViewType(typeof(uint), classes);
        var requests = mlContext.Data.LoadFromEnumerable(rows, schema);
        var bar = new ConsoleProgressBar("sampling");
        int done = 0;
        generator.Progress = new InlineProgress<Core.Diffusion.SamplerProgress>(p => { if (p.Step == p.Total) done += Math.Min(generator.BatchSize, rows.Count - done); bar.Update(done, rows.Count, ""); });
        var output = generator.Transform(requests);
        var images = new List<MLImage>();
        var samples = new List<(int Class, float[] Pixels)>();
        var imageColumn = output.Schema[generator.ImageColumnName];
        var pixelColumn = output.Schema[generator.OutputColumnName];
        using (var cursor = output.GetRowCursor([imageColumn, pixelColumn]))
        {
            var getImage = cursor.GetGetter<MLImage>(imageColumn);
            var getPixels = cursor.GetGetter<VBuffer<float>>(pixelColumn);
            MLImage image = null!;
            VBuffer<float> pixels = default;
            while (cursor.MoveNext())
            {
                getImage(ref image);
                getPixels(ref pixels);
                images.Add(image);
                samples.Add(((int)rows[(int)cursor.Position].Label, pixels.DenseValues().ToArray()));
            }
        }
        generator.Progress = null;
        bar.Done();
        ImageGrid.SavePng(path, images, perClass, generator.Generator.ClassCount > 0 ? generator.ClassNames.ToList() : null);
        foreach (var image in images) image.Dispose();
        return samples;
    }

    private sealed class Request
    {
        public uint Label { get; set; }   // 0-based class; ML.NET stores key v + 1
        public long Seed { get; set; }
    }
}
