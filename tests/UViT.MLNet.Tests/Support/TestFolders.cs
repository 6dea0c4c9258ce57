namespace UViT.MLNet.Tests.Support;

/// <summary>Fresh folders under the test run's directory (or the temp folder), one per call, so tests never share files.</summary>
internal static class TestFolders
{
    /// <summary>Creates and returns a new, empty folder.</summary>
    public static string NewFolder(this TestContext context)
    {
        string folder = Path.Combine(context.TestRunDirectory ?? Path.GetTempPath(), Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        return folder;
    }
}
