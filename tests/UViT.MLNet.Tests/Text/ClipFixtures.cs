// The CLIP golden fixtures (CLIP_FIXTURES, default ../shared/fixtures/clip): tokenizer cases, the small config, the
// ViT-L/14 key table, the README's tolerance. Nothing about a particular fixture set is hard-coded.
using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using TorchSharp.PyBridge;
using UViT.MLNet.Core.Text;
using UViT.MLNet.Tests.Support;
using static TorchSharp.torch;

namespace UViT.MLNet.Tests.Text;

internal static partial class ClipFixtures
{
    public static string PathOf(string file) => Path.Combine(Fixtures.ClipFolder, file);

    /// <summary>text_encoder.json: "config" (the small encoder) and "vit_l14_text" (keys, params).</summary>
    public static JsonElement EncoderManifest => JsonDocument.Parse(File.ReadAllText(PathOf("text_encoder.json"))).RootElement;

    /// <summary>The small encoder's architecture, read from text_encoder.json.</summary>
    public static ClipTextConfig SmallConfig => ClipTextConfig.FromJson(EncoderManifest.GetProperty("config"));

    /// <summary>The small encoder's files: the fixture tokenizer, its config and text_encoder.safetensors.</summary>
    public static ClipTextFiles SmallFiles => new(PathOf("vocab.json"), PathOf("merges.txt"), SmallConfig, PathOf("text_encoder.safetensors"));

    /// <summary>tokenizer.json's (text, ids) cases.</summary>
    public static IReadOnlyList<(string Text, int[] Ids)> TokenizerCases
    {
        get
        {
            var root = JsonDocument.Parse(File.ReadAllText(PathOf("tokenizer.json"))).RootElement;
            var texts = root.GetProperty("texts").EnumerateArray().Select(t => t.GetString()!).ToList();
            var ids = root.GetProperty("ids").EnumerateArray().Select(r => r.EnumerateArray().Select(v => v.GetInt32()).ToArray()).ToList();
            Assert.HasCount(texts.Count, ids, "tokenizer.json: texts and ids differ in count");
            return texts.Zip(ids).ToList();
        }
    }

    /// <summary>Tokens per text in tokenizer.json (every id row is padded to it).</summary>
    public static int ContextLength => TokenizerCases.Select(c => c.Ids.Length).Distinct().Single();

    /// <summary>Case indices of tokenizer.json, for DynamicData.</summary>
    public static IEnumerable<object[]> TokenizerCaseIndices() => Enumerable.Range(0, TokenizerCases.Count).Select(i => new object[] { i });

    /// <summary>The tokenizer over the fixture's vocab.json and merges.txt, built once.</summary>
    public static ClipTokenizer Tokenizer => TokenizerCache.Value;

    private static readonly Lazy<ClipTokenizer> TokenizerCache = new(() => ClipTokenizer.FromFiles(PathOf("vocab.json"), PathOf("merges.txt")));

    /// <summary>Reads a safetensors fixture; dispose the tensors (or use a dispose scope).</summary>
    public static Dictionary<string, Tensor> Tensors(string file) => Safetensors.LoadStateDict(PathOf(file));

    /// <summary>The README's hidden-state tolerance ("hidden states max |diff| &lt;= 1e-4").</summary>
    public static double HiddenStateTolerance
    {
        get
        {
            string line = File.ReadLines(PathOf("README.md")).Single(l => l.StartsWith("Tolerance", StringComparison.Ordinal));
            var numbers = NumberPattern().Matches(line).Select(m => double.Parse(m.Value, CultureInfo.InvariantCulture)).ToList();
            Assert.HasCount(1, numbers, $"Cannot read one tolerance from README line '{line}'.");
            return numbers[0];
        }
    }

    [GeneratedRegex(@"\d+(\.\d+)?[eE][-+]?\d+")]
    private static partial Regex NumberPattern();
}
