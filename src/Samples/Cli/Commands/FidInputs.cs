using Microsoft.ML;
using UViT.MLNet.Core.Evaluation;
using UViT.MLNet.Samples;
using UViT.MLNet.Transforms.Evaluation;

namespace UViT.MLNet.Cli.Commands;

/// <summary>What the <c>fid</c> verbs read: folders of image files (recursively) and <c>.npz</c> statistics files.</summary>
internal static class FidInputs
{
    private static readonly string[] Extensions = [".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp"];

    /// <summary>The column the folder view's images are loaded into.</summary>
    public const string ImageColumn = "Image";

    private sealed class ImageFile
    {
        public string Path { get; set; } = "";
    }

    /// <summary>
    /// Every image file under <paramref name="folder"/>, in ordinal path order, as a view with an MLImage column. Images are
    /// decoded lazily, one batch at a time, and may differ in size (the evaluator resizes each to 299x299).
    /// </summary>
    public static IDataView Folder(MLContext mlContext, string folder)
    {
        if (!Directory.Exists(folder)) throw new ArgumentException($"Image folder '{folder}' does not exist.");
        var files = Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories)
            .Where(f => Extensions.Contains(Path.GetExtension(f).ToLowerInvariant()))
            .Select(f => Path.GetRelativePath(folder, f)).Order(StringComparer.Ordinal)
            .Select(f => new ImageFile { Path = f }).ToList();
        if (files.Count == 0) throw new ArgumentException($"No images ({string.Join(", ", Extensions)}) found under '{folder}'.");
        return Files(mlContext, folder, files.Select(f => f.Path).ToList());
    }

    /// <summary>The images at <paramref name="relativePaths"/> under <paramref name="folder"/>, in that order, as a view with an MLImage column.</summary>
    public static IDataView Files(MLContext mlContext, string folder, IReadOnlyList<string> relativePaths)
    {
        var paths = mlContext.Data.LoadFromEnumerable(relativePaths.Select(f => new ImageFile { Path = f }).ToList());
        return mlContext.Transforms.LoadImages(ImageColumn, folder, nameof(ImageFile.Path)).Fit(paths).Transform(paths);
    }

    /// <summary>Statistics of <paramref name="source"/>: read from an <c>.npz</c> file, or computed from a folder of images.</summary>
    public static FeatureStatistics Statistics(MLContext mlContext, FidEvaluator evaluator, string source)
    {
        if (File.Exists(source)) return FidStatisticsFile.Read(source);
        var images = Folder(mlContext, source);
        var bar = new ConsoleProgressBar(Path.GetFileName(Path.TrimEndingDirectorySeparator(source)));
        var statistics = evaluator.ComputeStatistics(images, Progress(bar));
        bar.Done();
        return statistics;
    }

    /// <summary>Evaluator progress drawn on <paramref name="bar"/>.</summary>
    public static IProgress<FidProgress> Progress(ConsoleProgressBar bar) =>
        new SynchronousProgress<FidProgress>(p => bar.Update(p.Done, p.Total ?? p.Done, "images"));
}
