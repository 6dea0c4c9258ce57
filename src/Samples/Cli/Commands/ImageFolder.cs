namespace UViT.MLNet.Cli.Commands;

/// <summary>A folder with one subfolder per class: the subfolder name is the label.</summary>
internal static class ImageFolder
{
    private static readonly string[] Extensions = [".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp"];

    public sealed class Entry
    {
        public string Path { get; set; } = "";
        public string ClassName { get; set; } = "";
    }

    /// <summary>Every image under FOLDER/CLASS/, as paths relative to FOLDER.</summary>
    public static List<Entry> List(string folder)
    {
        if (!Directory.Exists(folder)) throw new ArgumentException($"Data folder '{folder}' does not exist.");
        var entries = Directory.GetDirectories(folder).OrderBy(d => d, StringComparer.Ordinal)
            .SelectMany(d => Directory.GetFiles(d).Where(f => Extensions.Contains(System.IO.Path.GetExtension(f).ToLowerInvariant()))
                .OrderBy(f => f, StringComparer.Ordinal)
                .Select(f => new Entry { Path = System.IO.Path.GetRelativePath(folder, f), ClassName = System.IO.Path.GetFileName(d) }))
            .ToList();
        if (entries.Count == 0) throw new ArgumentException($"No images found in subfolders of '{folder}' (expected FOLDER/CLASS/*.png).");
        foreach (var entry in entries) CheckReadable(System.IO.Path.Combine(folder, entry.Path));
        return entries;
    }

    /// <summary>
    /// Decodes the image once, so that a corrupt file is reported by name before training (ML.NET's LoadImages fails in the
    /// middle of a run with a message that does not name the file).
    /// </summary>
    private static void CheckReadable(string path)
    {
        try
        {
            using var image = Microsoft.ML.Data.MLImage.CreateFromFile(path);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new InvalidDataException($"'{path}' is not a readable image: {e.Message}", e);
        }
    }
}
