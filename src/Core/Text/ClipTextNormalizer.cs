// CLIP's text clean-up before BPE (openai/CLIP clip/simple_tokenizer.py: basic_clean + whitespace_clean + lower()).
// Deviation: ftfy.fix_text (mojibake repair) is not ported; only its Unicode NFC step is kept, which is what ftfy does to
// well-formed text. Hugging Face's CLIPTokenizer without ftfy installed skips that repair as well.
using System.Net;
using System.Text;
using System.Text.RegularExpressions;
using Microsoft.ML.Tokenizers;

namespace UViT.MLNet.Core.Text;

/// <summary>
/// Normalizes a prompt as CLIP does before tokenizing: NFC, HTML entities unescaped twice (captions scraped from the web
/// are often double-escaped, e.g. <c>&amp;amp;quot;</c>), runs of whitespace collapsed to one space, trimmed, lower-cased.
/// </summary>
public sealed partial class ClipTextNormalizer : Normalizer
{
    /// <summary>The shared instance (the normalizer holds no state).</summary>
    public static ClipTextNormalizer Instance { get; } = new();

    /// <inheritdoc />
    public override string Normalize(string original)
    {
        ArgumentNullException.ThrowIfNull(original);
        string text = original.Normalize(NormalizationForm.FormC);
        text = WebUtility.HtmlDecode(WebUtility.HtmlDecode(text));
        text = Whitespace().Replace(text, " ").Trim();
        // Python's str.lower() is culture-independent; so is ToLowerInvariant.
        return text.ToLowerInvariant();
    }

    /// <inheritdoc />
    public override string Normalize(ReadOnlySpan<char> original) => Normalize(original.ToString());

    [GeneratedRegex(@"\s+")]
    private static partial Regex Whitespace();
}
