// What the packages promise users at run time: the Debian 12 patch (build and run time share GlibcxxVersionNeeds), the
// backend versions stamped from Directory.Packages.props, the missing-backend message, the ML.NET version check.
// tests/Consumer/run.sh (CI, after packing) checks the same things end to end from outside the repository.
using System.Runtime.InteropServices;
using System.Xml.Linq;
using UViT.MLNet.Build;
using UViT.MLNet.Core.Runtime;
using UViT.MLNet.Tests.Support;
using UViT.MLNet.Transforms.Persistence;

namespace UViT.MLNet.Tests.Packaging;

[TestClass]
public sealed class PackagingTests
{
    [TestMethod]
    public void GluePatchMarksOnlyTheGlibcxxNeedsWeakAndIsIdempotent()
    {
        if (!RuntimeInformation.IsOSPlatform(OSPlatform.Linux)) Assert.Inconclusive("libLibTorchSharp.so exists on Linux only");
        string original = Path.Combine(PackagesFolder(), "torchsharp", Props("TorchSharpVersion"), "runtimes", RuntimeInformation.RuntimeIdentifier, "native", "libLibTorchSharp.so");
        if (!File.Exists(original)) Assert.Inconclusive($"{original} is not in the NuGet cache");

        byte[] bytes = File.ReadAllBytes(original);
        byte[] before = (byte[])bytes.Clone();
        int changed = GlibcxxVersionNeeds.Weaken(bytes);

        Assert.IsGreaterThanOrEqualTo(1, changed, "TorchSharp's glue needs GLIBCXX_3.4.32; the patch found no such version need");
        var differences = Enumerable.Range(0, bytes.Length).Where(i => bytes[i] != before[i]).ToList();
        Assert.IsLessThanOrEqualTo(changed, differences.Count, "one flags byte per weakened need, nothing else");
        Assert.IsTrue(differences.All(i => (bytes[i] ^ before[i]) == 0x2), "only VER_FLG_WEAK (0x2) may change");
        Assert.AreEqual(0, GlibcxxVersionNeeds.Weaken(bytes), "a second patch must change nothing");
    }

    [TestMethod]
    public void GluePatchLeavesFilesThatAreNotElfAlone()
    {
        byte[] notElf = "MZ not an ELF file at all, just some bytes that are long enough to have a header......."u8.ToArray();
        byte[] copy = (byte[])notElf.Clone();
        Assert.AreEqual(0, GlibcxxVersionNeeds.Weaken(notElf));
        CollectionAssert.AreEqual(copy, notElf);
    }

    [TestMethod]
    public void OutputGlueIsPatchedByTheBuild()
    {
        if (!RuntimeInformation.IsOSPlatform(OSPlatform.Linux)) Assert.Inconclusive("libLibTorchSharp.so exists on Linux only");
        string copy = Path.Combine(AppContext.BaseDirectory, "runtimes", RuntimeInformation.RuntimeIdentifier, "native", "libLibTorchSharp.so");
        Assert.IsTrue(File.Exists(copy), $"{copy} is missing from the test output");
        Assert.AreEqual(0, GlibcxxVersionNeeds.Weaken(File.ReadAllBytes(copy)), "the build's patch step did not run on the test output's copy");
    }

    [TestMethod]
    public void BackendVersionsComeFromThePackageVersions()
    {
        Assert.AreEqual(Props("LibTorchVersion"), TorchRuntime.LibTorchVersion);
        Assert.AreEqual(Props("TorchSharpVersion"), TorchRuntime.TorchSharpVersion);
    }

    [TestMethod]
    public void MissingBackendMessageNamesEveryBackendPackageAndThisMachinesLine()
    {
        string message = TorchRuntime.MissingBackendMessage(["/somewhere"]);
        foreach (string package in new[] { "libtorch-cpu-linux-x64", "libtorch-cpu-win-x64", "libtorch-cpu-osx-arm64", "TorchSharp-cpu", "TorchSharp-cuda-linux", "TorchSharp-cuda-windows" })
            StringAssert.Contains(message, package);
        StringAssert.Contains(message, $"dotnet add package {TorchRuntime.CpuBackendPackage} --version {Props("LibTorchVersion")}");
        StringAssert.Contains(message, "/somewhere");
    }

    [TestMethod]
    public void LoadedMLNetIsOnTheSupportedLine()
    {
        string version = MLNetInternals.LoadedVersion();
        string range = PackageVersion("Microsoft.ML");
        StringAssert.StartsWith(range, "[" + MLNetInternals.SupportedVersion, "the package range starts at the version the bridge was written against");
        StringAssert.StartsWith(version, "5.0.", $"the tests loaded Microsoft.ML {version}");
    }

    // A property of Directory.Packages.props (TorchSharpVersion, LibTorchVersion).
    private static string Props(string name) =>
        XDocument.Load(Path.Combine(Fixtures.RepoRoot, "Directory.Packages.props")).Descendants(name).Single().Value;

    private static string PackageVersion(string id) =>
        XDocument.Load(Path.Combine(Fixtures.RepoRoot, "Directory.Packages.props")).Descendants("PackageVersion")
            .Single(e => (string?)e.Attribute("Include") == id).Attribute("Version")!.Value;

    private static string PackagesFolder() =>
        Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } configured
            ? configured
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
}
