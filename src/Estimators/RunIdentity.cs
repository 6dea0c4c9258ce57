// What makes a resumed run the same run: stored with each checkpoint (as its metadata) and compared on resume, because
// continuing with other data, another batch size or another recipe silently trains something else. The data is told by its
// row count and by fingerprints of its rows, computed while they stream in (the same in memory and in a training store).
using System.Globalization;
using System.Text.Json;
using UViT.MLNet.Core.Training;

namespace UViT.MLNet.Estimators;

internal static class RunIdentity
{
    /// <summary>Keys that checkpoints written before they existed lack; such a checkpoint is not refused for lacking them.</summary>
    private static readonly HashSet<string> Later = ["data", "contexts"];

    /// <summary>The identity of a run as checkpoint metadata.</summary>
    /// <param name="data">Fingerprint of the training images and labels (TrainingStoreFingerprint, computed while they stream
    /// in); null for a moments cache.</param>
    /// <param name="contexts">Fingerprint of the text contexts; null without them.</param>
    public static IReadOnlyDictionary<string, string> Of(long rows, long batchSize, TrainingRecipe recipe, string? data = null, string? contexts = null)
    {
        var identity = new Dictionary<string, string>
        {
            ["rows"] = rows.ToString(CultureInfo.InvariantCulture),
            ["batchSize"] = batchSize.ToString(CultureInfo.InvariantCulture),
            ["recipe"] = JsonSerializer.Serialize(recipe),
        };
        if (data is not null) identity["data"] = data;
        if (contexts is not null) identity["contexts"] = contexts;
        return identity;
    }

    /// <summary>What differs between a checkpoint's identity and this run's ("rows 100 vs 200"), or null when they match.</summary>
    public static string? Mismatch(IReadOnlyDictionary<string, string> stored, IReadOnlyDictionary<string, string> current)
    {
        var differences = current.Where(kv => stored.TryGetValue(kv.Key, out var value) ? value != kv.Value : !Later.Contains(kv.Key))
                                 .Select(kv => $"{kv.Key} {(stored.TryGetValue(kv.Key, out var value) ? value : "(not recorded)")} in the checkpoint vs {kv.Value} now")
                                 .ToList();
        return differences.Count == 0 ? null : string.Join("; ", differences);
    }
}
