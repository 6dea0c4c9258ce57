// What the notebooks and file-based apps must leave behind: PNGs that decode, model zips that are not empty.
using SkiaSharp;

namespace UViT.MLNet.Tests.Samples;

internal static class SampleOutputs
{
    private static readonly List<string> Created = [];

    /// <summary>A fresh empty folder under the test run's directory (removed by <see cref="CleanUp"/> when the test passed).</summary>
    public static string NewFolder(TestContext context, string name)
    {
        string folder = Path.Combine(context.TestRunDirectory ?? Path.GetTempPath(), "samples", name + "-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(folder);
        lock (Created) Created.Add(folder);
        return folder;
    }

    /// <summary>Deletes the folders made since the last call if the test passed; keeps them for inspection if it failed.</summary>
    public static void CleanUp(TestContext context)
    {
        List<string> folders;
        lock (Created)
        {
            folders = [.. Created];
            Created.Clear();
        }
        if (context.CurrentTestOutcome != UnitTestOutcome.Passed) return;
        foreach (string folder in folders.Where(Directory.Exists)) Directory.Delete(folder, recursive: true);
    }

    /// <summary>Asserts that <paramref name="path"/> is a PNG of at least <paramref name="minWidth"/> x <paramref name="minHeight"/> pixels.</summary>
    public static void AssertPng(string path, int minWidth, int minHeight, string log)
    {
        Assert.IsTrue(File.Exists(path), $"{path} was not written.\n{log}");
        using var bitmap = SKBitmap.Decode(path);
        Assert.IsNotNull(bitmap, $"{path} is not a readable image.");
        Assert.IsTrue(bitmap.Width >= minWidth && bitmap.Height >= minHeight, $"{path} is {bitmap.Width}x{bitmap.Height}, expected at least {minWidth}x{minHeight}.");
    }

    /// <summary>Asserts that <paramref name="path"/> is a PNG (by its signature, and it decodes) of exactly <paramref name="width"/> x <paramref name="height"/> pixels.</summary>
    public static void AssertPngOfSize(string path, int width, int height, string log)
    {
        Assert.IsTrue(File.Exists(path), $"{path} was not written.\n{log}");
        byte[] signature = [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];
        CollectionAssert.AreEqual(signature, File.ReadAllBytes(path).Take(signature.Length).ToArray(), $"{path} does not start with the PNG signature.");
        using var bitmap = SKBitmap.Decode(path);
        Assert.IsNotNull(bitmap, $"{path} is not a readable image.");
        Assert.AreEqual((width, height), (bitmap.Width, bitmap.Height), $"size of {path}");
    }

    /// <summary>Asserts that a model zip was written and is a zip archive.</summary>
    public static void AssertModelZip(string path, string log)
    {
        Assert.IsTrue(File.Exists(path), $"{path} was not written.\n{log}");
        using var archive = System.IO.Compression.ZipFile.OpenRead(path);
        Assert.IsNotEmpty(archive.Entries, $"{path} holds no entries.");
    }
}
