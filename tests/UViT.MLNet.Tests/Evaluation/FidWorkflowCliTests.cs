// `uvit fid` in a fresh process on small folders of PNGs (nested, mixed sizes): statistics written by `stats` give the same
// FID in `compare` as the folder itself, and a missing folder is exit code 1 with a message.
using SkiaSharp;
using UViT.MLNet.Tests.Support;

namespace UViT.MLNet.Tests.Evaluation;

[TestClass]
public sealed class FidWorkflowCliTests
{
    public TestContext TestContext { get; set; } = null!;

    [TestMethod]
    public void StatsThenCompareGiveTheSameFidAsTheFolders()
    {
        string root = Path.Combine(TestContext.TestRunDirectory ?? Path.GetTempPath(), Guid.NewGuid().ToString("N"));
        string a = Path.Combine(root, "a"), b = Path.Combine(root, "b"), npz = Path.Combine(root, "a.npz");
        WritePng(Path.Combine(a, "0.png"), 16, 16, seed: 1);
        WritePng(Path.Combine(a, "nested", "1.png"), 20, 12, seed: 2);
        WritePng(Path.Combine(a, "2.png"), 16, 16, seed: 3);
        WritePng(Path.Combine(b, "0.png"), 16, 16, seed: 4);
        WritePng(Path.Combine(b, "1.png"), 16, 16, seed: 5);
        string weights = FidFixtures.PathOf("inception.safetensors");

        var (statsExit, statsLog) = CliProcess.Run("fid", "stats", a, "--weights", weights, "-o", npz);
        Assert.AreEqual(0, statsExit, statsLog);
        Assert.IsTrue(File.Exists(npz), statsLog);
        var (folderExit, folderLog) = CliProcess.Run("fid", "compare", a, b, "--weights", weights);
        var (npzExit, npzLog) = CliProcess.Run("fid", "compare", npz, b, "--weights", weights);
        Assert.AreEqual(0, folderExit, folderLog);
        Assert.AreEqual(0, npzExit, npzLog);
        string fid = folderLog.Split('\n').Single(l => l.StartsWith("FID ", StringComparison.Ordinal));
        StringAssert.Contains(npzLog, fid, "statistics read back from .npz give the folder's FID");

        var (missingExit, missingLog) = CliProcess.Run("fid", "stats", Path.Combine(root, "missing"), "--weights", weights, "-o", npz);
        Assert.AreEqual(1, missingExit, missingLog);
        StringAssert.Contains(missingLog, "does not exist");
    }

    private static void WritePng(string path, int width, int height, int seed)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var random = new Random(seed);
        using var bitmap = new SKBitmap(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Opaque));
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++) bitmap.SetPixel(x, y, new SKColor((byte)random.Next(256), (byte)random.Next(256), (byte)random.Next(256)));
        using var data = SKImage.FromBitmap(bitmap).Encode(SKEncodedImageFormat.Png, 100);
        File.WriteAllBytes(path, data.ToArray());
    }
}
