// Locates the golden fixtures (outputs of the official code) and reads their manifest. Nothing about a particular
// fixture set is hard-coded: configs, tensors, and tolerances all come from the folder, so the same tests run on any
// fixture folder of the same format (UVIT_FIXTURES).
using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace UViT.MLNet.Tests.Support;

internal static partial class Fixtures
{
    /// <summary>The repository root (the folder holding UViT.MLNet.sln).</summary>
    public static string RepoRoot { get; } = FindRepoRoot();

    /// <summary>UVIT_FIXTURES, or ../shared/fixtures/uvit next to the repository.</summary>
    public static string UViTFolder => Folder("UVIT_FIXTURES", "uvit");

    /// <summary>FID_FIXTURES, or ../shared/fixtures/fid next to the repository.</summary>
    public static string FidFolder => Folder("FID_FIXTURES", "fid");

    /// <summary>CLIP_FIXTURES, or ../shared/fixtures/clip next to the repository.</summary>
    public static string ClipFolder => Folder("CLIP_FIXTURES", "clip");

    public static string Folder(string variable, string name)
    {
        string? configured = Environment.GetEnvironmentVariable(variable);
        string folder = string.IsNullOrWhiteSpace(configured)
            ? Path.GetFullPath(Path.Combine(RepoRoot, "..", "shared", "fixtures", name))
            : Path.GetFullPath(configured);
        if (!Directory.Exists(folder))
            Assert.Fail($"Fixture folder '{folder}' not found. Set {variable} to the folder of the official code's outputs.");
        return folder;
    }

    public static string UViTPath(string file) => Path.Combine(UViTFolder, file);

    /// <summary>manifest.json of the U-ViT fixtures.</summary>
    public static JsonElement Manifest => ManifestCache.Value;

    private static readonly Lazy<JsonElement> ManifestCache = new(() => JsonDocument.Parse(File.ReadAllText(UViTPath("manifest.json"))).RootElement);

    /// <summary>(file name, entry) for every manifest file, in manifest order.</summary>
    public static IEnumerable<(string File, JsonElement Entry)> ManifestFiles =>
        Manifest.GetProperty("files").EnumerateObject().Select(p => (p.Name, p.Value));

    /// <summary>
    /// The manifest's tolerances, parsed from its sentence ("max |diff| &lt;= 1e-4 for forward passes and samplers,
    /// 1e-6 for embeddings and schedules"): (forward, embedding).
    /// </summary>
    public static (double Forward, double Embedding) Tolerances
    {
        get
        {
            string text = Manifest.GetProperty("tolerance").GetString()!;
            var numbers = NumberPattern().Matches(text).Select(m => double.Parse(m.Value, CultureInfo.InvariantCulture)).ToList();
            Assert.IsGreaterThanOrEqualTo(2, numbers.Count, $"Cannot read two tolerances from manifest text '{text}'.");
            return (numbers[0], numbers[1]);
        }
    }

    /// <summary>Reads a safetensors fixture; dispose the returned tensors (or use a dispose scope).</summary>
    public static Dictionary<string, Tensor> Tensors(string file) => Safetensors.LoadStateDict(UViTPath(file));

    /// <summary>max |a - b| as a double.</summary>
    public static double MaxAbsDiff(Tensor a, Tensor b)
    {
        using var diff = (a.to(ScalarType.Float64) - b.to(ScalarType.Float64)).abs().max();
        return diff.item<double>();
    }

    /// <summary>True when both tensors have the same shape and bit-equal values.</summary>
    public static bool Identical(Tensor a, Tensor b)
    {
        if (!a.shape.SequenceEqual(b.shape)) return false;
        using var equal = a.eq(b).all();
        return equal.item<bool>();
    }

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "UViT.MLNet.sln"))) return dir.FullName;
        }
        throw new InvalidOperationException("UViT.MLNet.sln not found above " + AppContext.BaseDirectory);
    }

    [GeneratedRegex(@"\d+(\.\d+)?[eE][-+]?\d+")]
    private static partial Regex NumberPattern();
}
