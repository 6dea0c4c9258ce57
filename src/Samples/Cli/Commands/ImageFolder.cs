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
        return entries;
    }
}
