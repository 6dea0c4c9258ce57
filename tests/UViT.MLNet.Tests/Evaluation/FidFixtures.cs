// The FID golden fixtures (FID_FIXTURES, default ../shared/fixtures/fid): file paths, fid.json, the README's tolerances,
// and the Frechet cases discovered from tensor names. Nothing about a particular fixture set is hard-coded.
using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using TorchSharp.PyBridge;
using UViT.MLNet.Tests.Support;
using static TorchSharp.torch;

namespace UViT.MLNet.Tests.Evaluation;

internal static partial class FidFixtures
{
    public static string PathOf(string file) => Path.Combine(Fixtures.FidFolder, file);

    /// <summary>fid.json.</summary>
    public static JsonElement Manifest => JsonDocument.Parse(File.ReadAllText(PathOf("fid.json"))).RootElement;

    /// <summary>Reads a safetensors fixture; dispose the tensors (or use a dispose scope).</summary>
    public static Dictionary<string, Tensor> Tensors(string file) => Safetensors.LoadStateDict(PathOf(file));

    /// <summary>The README's tolerance line ("features max |diff| &lt;= 1e-3 ...; FID relative error &lt;= 1e-6 ..."): (features, fid).</summary>
    public static (double Features, double FidRelative) Tolerances
    {
        get
        {
            string line = File.ReadLines(PathOf("README.md")).Single(l => l.StartsWith("Tolerance", StringComparison.Ordinal));
            var numbers = NumberPattern().Matches(line).Select(m => double.Parse(m.Value, CultureInfo.InvariantCulture)).ToList();
            Assert.HasCount(2, numbers, $"Cannot read two tolerances from README line '{line}'.");
            return (numbers[0], numbers[1]);
        }
    }

    /// <summary>The case prefixes ("case0", ...) of frechet.safetensors, from its tensor names.</summary>
    public static IEnumerable<object[]> FrechetCases()
    {
        using var scope = NewDisposeScope();
        return Tensors("frechet.safetensors").Keys.Where(k => k.EndsWith("_fid", StringComparison.Ordinal))
                                                .Select(k => k[..^"_fid".Length]).Order().Select(c => new object[] { c }).ToList();
    }

    [GeneratedRegex(@"\d+(\.\d+)?[eE][-+]?\d+")]
    private static partial Regex NumberPattern();
}
