// CLIP's tokenizer against the official simple_tokenizer / Hugging Face CLIPTokenizer ids of tokenizer.json, exactly.
using UViT.MLNet.Core.Text;

namespace UViT.MLNet.Tests.Text;

[TestClass]
public sealed class ClipTokenizerTests
{
    [TestMethod]
    [DynamicData(nameof(ClipFixtures.TokenizerCaseIndices), typeof(ClipFixtures))]
    public void IdsMatchTheOfficialTokenizer(int index)
    {
        var (text, expected) = ClipFixtures.TokenizerCases[index];
        var ids = ClipFixtures.Tokenizer.Encode(text);
        CollectionAssert.AreEqual(expected, ids, $"case {index} '{text}': got [{string.Join(", ", ids)}]");
    }

    [TestMethod]
    public void BatchIsTheRowsOfSingleEncodes()
    {
        var cases = ClipFixtures.TokenizerCases;
        var block = ClipFixtures.Tokenizer.EncodeBatch(cases.Select(c => c.Text).ToList());
        CollectionAssert.AreEqual(cases.SelectMany(c => c.Ids.Select(i => (long)i)).ToArray(), block);
    }

    [TestMethod]
    public void FramingComesFromTheVocabularyAndTruncationKeepsTheEndToken()
    {
        var tokenizer = ClipFixtures.Tokenizer;
        // README: every row is <|startoftext|>, the BPE ids, <|endoftext|>, then <|endoftext|> as padding; an over-long
        // text is cut with <|endoftext|> last. So every row starts with the start token and ends with the end token.
        foreach (var (text, ids) in ClipFixtures.TokenizerCases)
        {
            Assert.HasCount(tokenizer.ContextLength, ids, $"'{text}'");
            Assert.AreEqual(tokenizer.StartOfTextId, ids[0], $"'{text}': first id");
            Assert.AreEqual(tokenizer.EndOfTextId, ids[^1], $"'{text}': last id");
        }
        // A text longer than the context: the fixture's texts, repeated until their tokens overflow it.
        string texts = string.Join(" ", ClipFixtures.TokenizerCases.Select(c => c.Text));
        int perCopy = tokenizer.EncodeToBpeIds(texts).Count;
        Assert.IsGreaterThan(0, perCopy, "the fixture's texts hold no tokens to build a long text from");
        string longText = string.Join(" ", Enumerable.Repeat(texts, tokenizer.ContextLength / perCopy + 2));
        var bpe = tokenizer.EncodeToBpeIds(longText);
        Assert.IsGreaterThan(tokenizer.ContextLength - 2, bpe.Count);
        var encoded = tokenizer.Encode(longText);
        Assert.HasCount(tokenizer.ContextLength, encoded);
        CollectionAssert.AreEqual(new[] { tokenizer.StartOfTextId }.Concat(bpe.Take(tokenizer.ContextLength - 2)).Append(tokenizer.EndOfTextId).ToArray(), encoded);
    }

    [TestMethod]
    public void CleanUpUnescapesHtmlTwiceCollapsesWhitespaceAndLowerCases()
    {
        Assert.AreEqual("a \"cat\" & dog", ClipTextNormalizer.Instance.Normalize("  A &amp;quot;Cat&amp;quot;\t\n&amp; DOG "));
        var tokenizer = ClipFixtures.Tokenizer;
        CollectionAssert.AreEqual(tokenizer.Encode("a photo of a cat"), tokenizer.Encode("A  PHOTO of&#32;a\tcat "));
    }

    [TestMethod]
    public void SpecialTokensInTheTextAreKeptWhole()
    {
        var tokenizer = ClipFixtures.Tokenizer;
        var ids = tokenizer.EncodeToBpeIds("a <|endoftext|> cat");
        CollectionAssert.AreEqual(new[] { tokenizer.EncodeToBpeIds("a")[0], tokenizer.EndOfTextId, tokenizer.EncodeToBpeIds("cat")[0] }, ids.ToArray());
    }

    [TestMethod]
    public void DecodeGivesBackTheNormalizedText()
    {
        var tokenizer = ClipFixtures.Tokenizer;
        // Cases that were not truncated (they end in padding, or are empty) decode to their whole normalized text.
        foreach (var (text, ids) in ClipFixtures.TokenizerCases.Where(c => c.Ids[^1] == c.Ids[^2] || c.Text.Length == 0))
        {
            string expected = string.Join(" ", ClipTextNormalizer.Instance.Normalize(text).Split(' ', StringSplitOptions.RemoveEmptyEntries));
            string decoded = tokenizer.Decode(ids);
            // Decoding re-joins pre-tokens with spaces ("it 's"), so compare with whitespace and punctuation spacing removed.
            Assert.AreEqual(expected.Replace(" ", ""), decoded.Replace(" ", ""), $"'{text}'");
        }
    }

    [TestMethod]
    public void MissingOrForeignFilesFailClearly()
    {
        var missing = Assert.ThrowsExactly<FileNotFoundException>(() => ClipTokenizer.FromFiles(Path.Combine(Path.GetTempPath(), "no-such-vocab.json"), ClipFixtures.PathOf("merges.txt")));
        StringAssert.Contains(missing.Message, "no-such-vocab.json");
        using var vocab = new MemoryStream("{\"a\": 0, \"b\": 1}"u8.ToArray());
        using var merges = new MemoryStream("#version: 0.2\na b\n"u8.ToArray());
        var foreign = Assert.ThrowsExactly<InvalidDataException>(() => ClipTokenizer.FromStreams(vocab, merges));
        StringAssert.Contains(foreign.Message, "<|startoftext|>");
    }
}
