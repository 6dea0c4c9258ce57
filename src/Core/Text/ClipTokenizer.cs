// CLIP's byte-level BPE tokenizer (openai/CLIP clip/simple_tokenizer.py; Hugging Face transformers CLIPTokenizer), built on
// Microsoft.ML.Tokenizers' BpeTokenizer: CLIP's scheme is exactly its byte-level mode with the "</w>" end-of-word suffix
// (the suffix is attached to the last symbol of every pre-token before merging, merges are applied by rank), plus CLIP's
// pre-tokenizer regex and text clean-up (ClipTextNormalizer). Output follows Hugging Face's
// CLIPTokenizer(padding="max_length", max_length=77, truncation=True): <|startoftext|>, BPE ids, <|endoftext|>, then
// <|endoftext|> as padding; over-long prompts are cut so that <|endoftext|> stays last.
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.ML.Tokenizers;

namespace UViT.MLNet.Core.Text;

/// <summary>Turns prompts into CLIP's fixed-length token ids (77 for every released CLIP model).</summary>
public sealed partial class ClipTokenizer
{
    /// <summary>The start-of-text token, prepended to every prompt.</summary>
    public const string StartOfTextToken = "<|startoftext|>";

    /// <summary>The end-of-text token, appended to every prompt and repeated as padding.</summary>
    public const string EndOfTextToken = "<|endoftext|>";

    /// <summary>CLIP's context length: the text tower has this many position embeddings.</summary>
    public const int DefaultContextLength = 77;

    private readonly BpeTokenizer _bpe;

    /// <summary>Id of <see cref="StartOfTextToken"/> in the vocabulary (49406 for the released CLIP models).</summary>
    public int StartOfTextId { get; }

    /// <summary>Id of <see cref="EndOfTextToken"/> in the vocabulary (49407 for the released CLIP models); also the padding id.</summary>
    public int EndOfTextId { get; }

    /// <summary>Number of ids every encoded prompt has.</summary>
    public int ContextLength { get; }

    private ClipTokenizer(BpeTokenizer bpe, int contextLength)
    {
        if (contextLength < 2) throw new ArgumentOutOfRangeException(nameof(contextLength), contextLength, "The context must hold at least the start and end tokens.");
        _bpe = bpe;
        ContextLength = contextLength;
        StartOfTextId = bpe.SpecialTokens![StartOfTextToken];
        EndOfTextId = bpe.SpecialTokens[EndOfTextToken];
    }

    /// <summary>
    /// Reads the tokenizer files Hugging Face ships with every CLIP model (<c>vocab.json</c>: token -> id over the
    /// byte-to-unicode alphabet; <c>merges.txt</c>: one merge per line by rank, after a <c>#version</c> header).
    /// </summary>
    /// <exception cref="FileNotFoundException">A file is missing.</exception>
    public static ClipTokenizer FromFiles(string vocabPath, string mergesPath, int contextLength = DefaultContextLength)
    {
        foreach (string path in new[] { vocabPath, mergesPath })
        {
            if (!File.Exists(path)) throw new FileNotFoundException($"CLIP tokenizer file '{path}' does not exist.", path);
        }
        using var vocab = File.OpenRead(vocabPath);
        using var merges = File.OpenRead(mergesPath);
        return FromStreams(vocab, merges, contextLength);
    }

    /// <summary>Builds the tokenizer from the contents of <c>vocab.json</c> and <c>merges.txt</c>.</summary>
    /// <exception cref="InvalidDataException">The vocabulary is not CLIP's (no special tokens, not byte-level).</exception>
    public static ClipTokenizer FromStreams(Stream vocab, Stream merges, int contextLength = DefaultContextLength)
    {
        var vocabulary = JsonSerializer.Deserialize<Dictionary<string, int>>(vocab)
                         ?? throw new InvalidDataException("vocab.json is empty.");
        var specialTokens = new Dictionary<string, int>();
        foreach (string token in new[] { StartOfTextToken, EndOfTextToken })
        {
            if (!vocabulary.TryGetValue(token, out int id)) throw new InvalidDataException($"The vocabulary has no '{token}' entry; is it a CLIP vocab.json?");
            specialTokens[token] = id;
        }
        // Byte-level vocabularies spell the space byte as 'Ġ' (GPT-2's byte-to-unicode table, which CLIP reuses).
        if (!vocabulary.ContainsKey("Ġ")) throw new InvalidDataException("The vocabulary is not a byte-level BPE vocabulary (no 'Ġ' entry).");

        var options = new BpeOptions(vocabulary)
        {
            Merges = ReadMerges(merges),
            SpecialTokens = specialTokens,                                  // never split or merged
            Normalizer = ClipTextNormalizer.Instance,
            PreTokenizer = new RegexPreTokenizer(PreTokenPattern(), specialTokens),
            ByteLevel = true,                                               // UTF-8 bytes through the byte-to-unicode table
            EndOfWordSuffix = "</w>",                                       // on the last symbol of every pre-token
        };
        return new ClipTokenizer(BpeTokenizer.Create(options), contextLength);
    }

    /// <summary>The BPE ids of one prompt, without start/end tokens, padding or truncation.</summary>
    public IReadOnlyList<int> EncodeToBpeIds(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return _bpe.EncodeToIds(text);
    }

    /// <summary>
    /// One prompt as exactly <see cref="ContextLength"/> ids: start, BPE ids (cut to ContextLength - 2), end, end-padding.
    /// </summary>
    public int[] Encode(string text)
    {
        var bpeIds = EncodeToBpeIds(text);
        int kept = Math.Min(bpeIds.Count, ContextLength - 2);
        var ids = new int[ContextLength];
        Array.Fill(ids, EndOfTextId);                                   // end token and padding
        ids[0] = StartOfTextId;
        for (int i = 0; i < kept; i++) ids[i + 1] = bpeIds[i];
        return ids;
    }

    /// <summary>Several prompts as a row-major <c>[B, ContextLength]</c> block of ids.</summary>
    public long[] EncodeBatch(IReadOnlyList<string> texts)
    {
        ArgumentNullException.ThrowIfNull(texts);
        var block = new long[texts.Count * ContextLength];
        for (int b = 0; b < texts.Count; b++)
        {
            var ids = Encode(texts[b]);
            for (int i = 0; i < ContextLength; i++) block[b * ContextLength + i] = ids[i];
        }
        return block;
    }

    /// <summary>Turns ids back into normalized text (special tokens dropped, the end-of-word suffix read as a space).</summary>
    public string Decode(IEnumerable<int> ids) =>
        (_bpe.Decode(ids.Where(id => id != StartOfTextId && id != EndOfTextId)) ?? "").Replace("</w>", " ").Trim();

    // merges.txt: "left right" per line in rank order, after a "#version: 0.2" header line.
    private static List<string> ReadMerges(Stream merges)
    {
        var lines = new List<string>();
        using var reader = new StreamReader(merges, leaveOpen: true);
        while (reader.ReadLine() is { } line)
        {
            if (line.Length == 0 || line.StartsWith("#version", StringComparison.Ordinal)) continue;
            lines.Add(line);
        }
        return lines;
    }

    // clip/simple_tokenizer.py's pattern (compiled with re.IGNORECASE there): the special tokens, English contractions,
    // letter runs, single digits, and runs of other non-space characters. Whitespace separates pre-tokens and is dropped.
    [GeneratedRegex(@"<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+", RegexOptions.IgnoreCase)]
    private static partial Regex PreTokenPattern();
}
