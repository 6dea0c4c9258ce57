// Copies a state dict into a module by key, strictly by default, with errors that name every offending key.
using static TorchSharp.torch;

namespace UViT.MLNet.Core.Checkpoints;

/// <summary>What a non-strict load skipped.</summary>
/// <param name="MissingKeys">Module keys the checkpoint lacked (left as they were).</param>
/// <param name="UnexpectedKeys">Checkpoint keys the module lacks (ignored).</param>
public sealed record StateDictLoadReport(IReadOnlyList<string> MissingKeys, IReadOnlyList<string> UnexpectedKeys);

/// <summary>Loads state dicts into TorchSharp modules.</summary>
public static class StateDictLoader
{
    /// <summary>
    /// Copies <paramref name="state"/> into <paramref name="module"/>'s parameters and buffers (converting dtype and device).
    /// Shape mismatches always fail; with <paramref name="strict"/> missing and unexpected keys fail too.
    /// Nothing is copied unless the whole check passes, so a failed load leaves the module unchanged.
    /// </summary>
    /// <param name="source">How to name the checkpoint in errors (usually its path).</param>
    /// <exception cref="CheckpointMismatchException">Keys or shapes do not match; every offending key is named.</exception>
    public static StateDictLoadReport Load(nn.Module module, IReadOnlyDictionary<string, Tensor> state, bool strict = true, string source = "state dict")
    {
        var report = Check(module, state, strict, source);
        using (no_grad())
        {
            foreach (var (key, destination) in module.state_dict())
            {
                if (state.TryGetValue(key, out var value)) destination.copy_(value);
            }
        }
        return report;
    }

    /// <summary>
    /// The checks of <see cref="Load"/> without the copy, so that a caller loading several parts (a training checkpoint's
    /// network, EMA and optimiser) can validate them all before it changes anything.
    /// </summary>
    /// <exception cref="CheckpointMismatchException">Keys or shapes do not match; every offending key is named.</exception>
    public static StateDictLoadReport Check(nn.Module module, IReadOnlyDictionary<string, Tensor> state, bool strict = true, string source = "state dict")
    {
        var target = module.state_dict();
        var missing = target.Keys.Where(k => !state.ContainsKey(k)).ToList();
        var unexpected = state.Keys.Where(k => !target.ContainsKey(k)).ToList();
        var shapes = target.Where(kv => state.TryGetValue(kv.Key, out var t) && !t.shape.SequenceEqual(kv.Value.shape))
                           .Select(kv => $"{kv.Key}: checkpoint [{string.Join(", ", state[kv.Key].shape)}] vs model [{string.Join(", ", kv.Value.shape)}]")
                           .ToList();
        if (shapes.Count > 0 || (strict && (missing.Count > 0 || unexpected.Count > 0)))
            throw new CheckpointMismatchException(source, missing, unexpected, shapes, Hint(missing, unexpected));
        return new StateDictLoadReport(missing, unexpected);
    }

    /// <summary>Reads <paramref name="path"/> (safetensors or torch.save) and loads it; the file's tensors are disposed afterwards.</summary>
    public static StateDictLoadReport LoadFile(nn.Module module, string path, bool strict = true)
    {
        var state = StateDictFile.Read(path);
        try
        {
            return Load(module, state, strict, path);
        }
        finally
        {
            foreach (var tensor in state.Values) tensor.Dispose();
        }
    }

    /// <summary>Writes <paramref name="module"/>'s state dict to <paramref name="path"/> as safetensors, atomically.</summary>
    public static void SaveFile(nn.Module module, string path) => StateDictFile.WriteSafetensors(path, module.state_dict());

    // A common reason for a total mismatch: the checkpoint keys carry a prefix ("module.", "nnet.", "model."). A prefix is
    // only suggested when it explains most missing keys, so that a checkpoint of another model whose keys merely end alike
    // (e.g. an autoencoder's "encoder.mid.attn_1.norm.weight" vs "norm.weight") gets no misleading hint.
    private static string? Hint(IReadOnlyList<string> missing, IReadOnlyList<string> unexpected)
    {
        if (missing.Count == 0 || unexpected.Count == 0) return null;
        var present = unexpected.ToHashSet(StringComparer.Ordinal);
        var candidates = unexpected
            .SelectMany(key => missing.Where(wanted => key.Length > wanted.Length && key.EndsWith("." + wanted, StringComparison.Ordinal))
                                      .Select(wanted => key[..^wanted.Length]))
            .Distinct(StringComparer.Ordinal);
        foreach (string prefix in candidates)
        {
            int explained = missing.Count(wanted => present.Contains(prefix + wanted));
            if (explained >= 0.9 * missing.Count)
                return $"the checkpoint's keys look prefixed with '{prefix}' (e.g. '{prefix + missing[0]}'); strip that prefix before loading.";
        }
        return null;
    }
}
