// The variants `uvit ablate` compares (Bao et al., section 4.1 / Figure 2): each differs from the baseline - the default
// MNIST network of `uvit train` - in one thing. The patch-size variant trains for fewer steps so that every run spends about
// the same forward FLOPs (the equal-compute rule of docs/ablations.md).
using UViT.MLNet.Core.Networks;

namespace UViT.MLNet.Cli.Ablation;

/// <summary>One ablation variant: a name, the one change it makes, and whether its steps are scaled to the baseline's FLOPs.</summary>
/// <param name="Name">Short name used by <c>--variants</c> and in the table.</param>
/// <param name="Change">What differs from the baseline, in words.</param>
/// <param name="Apply">The baseline network to the variant's.</param>
/// <param name="EqualCompute">Scale the steps by baseline/variant forward FLOPs (variants that change the token count).</param>
internal sealed record AblationVariant(string Name, string Change, Func<UViTConfig, UViTConfig> Apply, bool EqualCompute = false)
{
    /// <summary>Every variant, the baseline first.</summary>
    public static IReadOnlyList<AblationVariant> All { get; } =
    [
        new("baseline", "official U-ViT: long skips (concat + linear), time as a token, 3x3 conv, default patch", c => c),
        new("no-skip", "no long skips", c => c with { Skip = false }),
        new("add-skip", "long skips added (x + skip) instead of concat + linear", c => c with { SkipMode = UViTSkipMode.Add }),
        new("adaln", "time and label through adaptive layer norm instead of tokens", c => c with { TimeConditioning = UViTTimeConditioning.AdaLayerNorm }),
        new("no-conv", "no 3x3 conv after the linear decoder", c => c with { Conv = false }),
        new("smaller-patch", "the next smaller patch size (MNIST: 4 instead of 7, 49 patch tokens instead of 16) at equal FLOPs (fewer steps)",
            c => c with { PatchSize = SmallerPatch(c) }, EqualCompute: true),
    ];

    /// <summary>The largest patch size below the config's that divides the image side (7 -> 4 for 28-pixel MNIST).</summary>
    private static int SmallerPatch(UViTConfig c) =>
        Enumerable.Range(1, c.PatchSize - 1).Reverse().FirstOrDefault(p => c.ImageSize % p == 0) is int p and > 0
            ? p : throw new ArgumentException($"Patch size {c.PatchSize} has no smaller one to compare with.");

    /// <summary>The variants named in <paramref name="names"/> (comma-separated; null or empty: all), in the order of <see cref="All"/>.</summary>
    /// <exception cref="ArgumentException">A name is not a variant; the message lists the known ones.</exception>
    public static IReadOnlyList<AblationVariant> Select(string? names)
    {
        if (string.IsNullOrWhiteSpace(names)) return All;
        var wanted = names.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToHashSet(StringComparer.OrdinalIgnoreCase);
        var unknown = wanted.Where(n => All.All(v => !v.Name.Equals(n, StringComparison.OrdinalIgnoreCase))).ToList();
        if (unknown.Count > 0)
            throw new ArgumentException($"Unknown --variants {string.Join(", ", unknown)}; known: {string.Join(", ", All.Select(v => v.Name))}.");
        return All.Where(v => wanted.Contains(v.Name)).ToList();
    }

    /// <summary>
    /// Optimiser steps for this variant: <paramref name="steps"/>, or for an equal-compute variant <paramref name="steps"/>
    /// times the baseline's forward FLOPs over the variant's (at least 1), so both runs spend about the same compute.
    /// </summary>
    public int Steps(int steps, UViTConfig baseline) =>
        EqualCompute ? Math.Max(1, (int)Math.Round(steps * baseline.ForwardGflops / Apply(baseline).ForwardGflops)) : steps;
}
