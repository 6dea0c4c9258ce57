// The file table of an image folder with one subfolder per class, as the samples and `uvit train --data` read it.
namespace UViT.MLNet.Samples;

/// <summary>A folder with one subfolder per class: the subfolder name is the label.</summary>
public static class ImageFolder
{
    private static readonly string[] Extensions = [".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp"];

    /// <summary>One image: its path relative to the folder and its class (the subfolder's name).</summary>
    public sealed class Entry
    {
        /// <summary>The image's path relative to the folder (ML.NET's LoadImages takes the folder and this).</summary>
        public string Path { get; set; } = "";
        /// <summary>The subfolder's name.</summary>
        public string ClassName { get; set; } = "";
    }

    /// <summary>Every image under FOLDER/CLASS/ (png, jpg, jpeg, bmp, gif, webp), as paths relative to FOLDER, in ordinal order.</summary>
    /// <exception cref="ArgumentException">The folder does not exist or holds no images in subfolders.</exception>
    /// <exception cref="InvalidDataException">An image cannot be decoded (named).</exception>
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
