using Microsoft.ML;
using Microsoft.ML.Data;
using UViT.MLNet.Core.Diffusion;
using UViT.MLNet.Transforms.Generation;
using UViT.MLNet.Transforms.Latents;
using UViT.MLNet.Transforms.Persistence;
using UViT.MLNet.Transforms.Text;

namespace UViT.MLNet.Cli.Commands;

/// <summary>One image to generate: its seed, and its class (class models) or prompt (text models).</summary>
internal sealed record SampleRequest(long Seed, int Class = 0, string Prompt = "");

/// <summary>Generation steps shared by <c>train</c>, <c>sample</c> and <c>fid-model</c>: any model kind the library trains.</summary>
internal static class GenerationHelpers
{
    /// <summary>A saved model zip, with a missing or unreadable file reported as bad input.</summary>
    public static ITransformer LoadModel(MLContext mlContext, string path) => mlContext.LoadChecked(path, out _);

    /// <summary>The U-ViT generation transformer in a loaded model (alone or at the end of a chain).</summary>
    public static UViTGenerationTransformer FindGenerator(ITransformer model) => Stages(model).OfType<UViTGenerationTransformer>().LastOrDefault()
        ?? throw new ArgumentException($"The model is a {model.GetType().Name} holding no U-ViT generation transformer.");

    /// <summary>The text encoder before the generator in a text model's chain, or null.</summary>
    public static TextEncodingTransformer? FindTextEncoder(ITransformer model) => Stages(model).OfType<TextEncodingTransformer>().FirstOrDefault();

    /// <summary>
    /// The lazy view of <paramref name="requests"/> run through <paramref name="model"/>'s chain: its prompt encoder, its generator and
    /// what follows it (latent decoding); earlier training-data stages (e.g. latent encoding of training images) are skipped. Its generator is replaced by <paramref name="generator"/> (e.g. other sampling settings) reporting to
    /// <paramref name="progress"/>; and where the final pixels and images are.
    /// </summary>
    public static (IDataView View, string PixelColumn, string? ImageColumn, PixelRange Range) Run(MLContext mlContext, ITransformer model, UViTGenerationTransformer generator,
                                                                                                IReadOnlyList<SampleRequest> requests, IProgress<SamplerProgress>? progress)
    {
        var original = FindGenerator(model);
        int classes = original.Generator.ClassCount;
        var schema = SchemaDefinition.Create(typeof(RequestRow));
        if (classes > 0) schema[nameof(RequestRow.Label)].ColumnType = new KeyDataViewType(typeof(uint), classes);
        schema[nameof(RequestRow.Label)].ColumnName = original.LabelColumnName;
        schema[nameof(RequestRow.Seed)].ColumnName = original.SeedColumnName;
        if (FindTextEncoder(model) is { } text) schema[nameof(RequestRow.Prompt)].ColumnName = text.Options.InputColumnName;
        var view = mlContext.Data.LoadFromEnumerable(requests.Select(r => new RequestRow { Label = (uint)r.Class, Seed = r.Seed, Prompt = r.Prompt }), schema);
        (string Pixels, string? Image, PixelRange Range) output = (generator.OutputColumnName, generator.HasImageOutput ? generator.ImageColumnName : null, generator.OutputRange);
        bool generated = false;
        foreach (var stage in Stages(model))
        {
            if (stage == original) { view = generator.Generate(view, progress); generated = true; continue; }
            if (!generated && stage is not TextEncodingTransformer) continue;
            view = stage.Transform(view);
            if (generated && stage is LatentDecodingTransformer decoder) output = (decoder.Options.OutputColumnName, decoder.Options.ImageColumnName, decoder.Options.OutputRange);
        }
        return (view, output.Pixels, output.Image, output.Range);
    }

    /// <summary>
    /// Generates <paramref name="requests"/> with a console progress bar (unless <paramref name="showProgress"/> is false, e.g. when
    /// stdout must hold only JSON) and returns each image and its pixels (in the model's output range); the images are null when
    /// the model makes none (e.g. 4-channel latents without a decoder).
    /// </summary>
    public static List<(MLImage? Image, float[] Pixels)> Generate(MLContext mlContext, ITransformer model, UViTGenerationTransformer generator, IReadOnlyList<SampleRequest> requests,
                                                                  bool showProgress = true)
    {
        var bar = new ConsoleProgressBar("sampling");
        int done = 0;
        var progress = !showProgress ? null : new InlineProgress<SamplerProgress>(p =>
        {
            if (p.Step == p.Total) done += Math.Min(generator.BatchSize, requests.Count - done);
            bar.Update(done, requests.Count, "");
        });
        var (view, pixelColumn, imageColumn, _) = Run(mlContext, model, generator, requests, progress);
        var results = new List<(MLImage?, float[])>();
        var pixels = view.Schema[pixelColumn];
        DataViewSchema.Column? image = imageColumn is null ? null : view.Schema[imageColumn];
        using (var cursor = view.GetRowCursor(image is { } i ? [pixels, i] : [pixels]))
        {
            var getPixels = cursor.GetGetter<VBuffer<float>>(pixels);
            var getImage = image is { } column ? cursor.GetGetter<MLImage>(column) : null;
            VBuffer<float> buffer = default;
            while (cursor.MoveNext())
            {
                MLImage current = null!;
                getImage?.Invoke(ref current);
                getPixels(ref buffer);
                results.Add((getImage is null ? null : current, buffer.DenseValues().ToArray()));
            }
        }
        if (showProgress) bar.Done();
        return results;
    }

    /// <summary>
    /// Generates <paramref name="perClass"/> images of every class (one grid row per class; unconditional models: one row), saves the
    /// PNG grid, and returns each image's class and pixels (in the model's output range).
    /// </summary>
    public static List<(int Class, float[] Pixels)> WriteClassGrid(MLContext mlContext, ITransformer model, UViTGenerationTransformer generator, string path, int perClass, long baseSeed)
    {
        if (perClass is < 1 or > 1000) throw new ArgumentException($"--per-class must lie in [1, 1000]; got {perClass}.");
        int classes = Math.Max(1, generator.Generator.ClassCount);
        var requests = Enumerable.Range(0, classes).SelectMany(c => Enumerable.Range(0, perClass).Select(i => new SampleRequest(baseSeed + c * perClass + i, c))).ToList();
        var samples = Generate(mlContext, model, generator, requests);
        SaveGrid(path, samples.Select(s => s.Image).ToList(), perClass, generator.Generator.ClassCount > 0 ? generator.ClassNames.ToList() : null);
        return requests.Select((r, i) => (r.Class, samples[i].Pixels)).ToList();
    }

    /// <summary>Saves the images as a PNG grid; refuses a model that makes no images.</summary>
    public static void SaveGrid(string path, IReadOnlyList<MLImage?> images, int columns, IReadOnlyList<string>? rowCaptions, int scale = 4)
    {
        if (images.Any(i => i is null))
            throw new ArgumentException("The model makes no images (its samples have neither 1 nor 3 channels and no latent decoder follows it).");
        ImageGrid.SavePng(path, images!, columns, rowCaptions, scale);
    }

    /// <summary>The transformers of a model, in order (a chain's elements, or the model alone).</summary>
    private static IEnumerable<ITransformer> Stages(ITransformer model) => model is IEnumerable<ITransformer> chain ? chain : [model];

    private sealed class RequestRow
    {
        public uint Label { get; set; }   // 0-based class; ML.NET stores key v + 1
        public long Seed { get; set; }
        public string Prompt { get; set; } = "";
    }
}
