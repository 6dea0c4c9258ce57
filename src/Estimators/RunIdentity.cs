// What makes a resumed run the same run: stored with each checkpoint (as its metadata) and compared on resume, because
// continuing with other data, another batch size or another recipe silently trains something else.
using System.Globalization;
using System.Text.Json;
using UViT.MLNet.Core.Training;

namespace UViT.MLNet.Estimators;

internal static class RunIdentity
{
    /// <summary>The identity of a run as checkpoint metadata.</summary>
    public static IReadOnlyDictionary<string, string> Of(long rows, long batchSize, TrainingRecipe recipe) => new Dictionary<string, string>
    {
        ["rows"] = rows.ToString(CultureInfo.InvariantCulture),
        ["batchSize"] = batchSize.ToString(CultureInfo.InvariantCulture),
        ["recipe"] = JsonSerializer.Serialize(recipe),
    };

    /// <summary>What differs between a checkpoint's identity and this run's ("rows 100 vs 200"), or null when they match.</summary>
    public static string? Mismatch(IReadOnlyDictionary<string, string> stored, IReadOnlyDictionary<string, string> current)
    {
        var differences = current.Where(kv => !stored.TryGetValue(kv.Key, out var value) || value != kv.Value)
                                 .Select(kv => $"{kv.Key} {(stored.TryGetValue(kv.Key, out var value) ? value : "(not recorded)")} in the checkpoint vs {kv.Value} now")
                                 .ToList();
        return differences.Count == 0 ? null : string.Join("; ", differences);
    }
}
