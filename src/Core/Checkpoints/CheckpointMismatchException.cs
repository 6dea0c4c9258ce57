namespace UViT.MLNet.Core.Checkpoints;

/// <summary>
/// A checkpoint does not fit the module it is loaded into. The message and the properties name every missing key,
/// unexpected key and shape mismatch, so a user can see at once whether it is the wrong preset, a prefixed
/// (e.g. "module.") state dict, or a different model altogether.
/// </summary>
public sealed class CheckpointMismatchException(
    string source,
    IReadOnlyList<string> missingKeys,
    IReadOnlyList<string> unexpectedKeys,
    IReadOnlyList<string> shapeMismatches,
    string? hint) : Exception(Describe(source, missingKeys, unexpectedKeys, shapeMismatches, hint))
{
    /// <summary>Keys the module has and the checkpoint lacks.</summary>
    public IReadOnlyList<string> MissingKeys { get; } = missingKeys;
    /// <summary>Keys the checkpoint has and the module lacks.</summary>
    public IReadOnlyList<string> UnexpectedKeys { get; } = unexpectedKeys;
    /// <summary>"key: checkpoint [..] vs model [..]" for each key present in both with different shapes.</summary>
    public IReadOnlyList<string> ShapeMismatches { get; } = shapeMismatches;

    private const int ListedPerKind = 20;

    private static string Describe(string source, IReadOnlyList<string> missing, IReadOnlyList<string> unexpected,
                                   IReadOnlyList<string> shapes, string? hint)
    {
        var lines = new List<string> { $"Checkpoint '{source}' does not match the model:" };
        void Add(string title, IReadOnlyList<string> items)
        {
            if (items.Count == 0) return;
            var shown = items.Take(ListedPerKind).ToList();
            string more = items.Count > shown.Count ? $", ... ({items.Count - shown.Count} more)" : "";
            lines.Add($"  {title} ({items.Count}): {string.Join(", ", shown)}{more}");
        }
        Add("missing keys", missing);
        Add("unexpected keys", unexpected);
        Add("shape mismatches", shapes);
        if (hint is not null) lines.Add("  hint: " + hint);
        return string.Join(Environment.NewLine, lines);
    }
}
