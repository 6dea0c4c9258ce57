// The ten official U-ViT configurations (official configs/*.py, `config.nnet`), addressable by the official config
// name ("imagenet256_uvit_huge") or the paper's name ("U-ViT-H/2"; "U-ViT-S/2 MS-COCO" where the paper reuses a name).
namespace UViT.MLNet.Core.Networks;

/// <summary>One official configuration: its names, the data it was trained on, and the network.</summary>
/// <param name="Name">Official config name, e.g. "cifar10_uvit_small".</param>
/// <param name="PaperName">The paper's name, e.g. "U-ViT-S/2".</param>
/// <param name="Dataset">Training data, e.g. "CIFAR-10" or "ImageNet 256".</param>
/// <param name="Config">The network.</param>
/// <param name="NullClass">The label used as "no class" for classifier-free guidance, if the model has one.</param>
public sealed record UViTPreset(string Name, string PaperName, string Dataset, UViTConfig Config, int? NullClass)
{
    /// <summary>"U-ViT-S/2 CIFAR-10": the paper name qualified by the dataset, unique across presets.</summary>
    public string QualifiedPaperName => $"{PaperName} {Dataset}";

    /// <summary>
    /// The scale the official code applies to Stable Diffusion KL-f8 latents for this preset (its <c>config.autoencoder</c> /
    /// <c>scale_factor</c>): 0.18215 for the ImageNet latent models, 0.23010 for MS-COCO; null for pixel-space models.
    /// Pass it to EncodeLatents / DecodeLatents.
    /// </summary>
    public double? LatentScaleFactor => Config.InChannels != 4 ? null : Dataset == "MS-COCO" ? 0.23010 : 0.18215;
}

/// <summary>The official U-ViT presets.</summary>
public static class UViTPresets
{
    // Small helpers that keep the table below one line per preset.
    private static UViTConfig Net(int img, int patch, int chans, int dim, int depth, int heads, int classes = -1, bool conv = true) =>
        new() { ImageSize = img, PatchSize = patch, InChannels = chans, EmbedDim = dim, Depth = depth, NumHeads = heads, NumClasses = classes, Conv = conv };
    private static UViTConfig Text(int depth) =>
        new() { ImageSize = 32, PatchSize = 2, InChannels = 4, EmbedDim = 512, Depth = depth, NumHeads = 8, ClipDim = 768, NumClipTokens = 77 };

    /// <summary>All ten, in the order of the paper's tables.</summary>
    public static IReadOnlyList<UViTPreset> All { get; } =
    [
        new("cifar10_uvit_small",     "U-ViT-S/2",      "CIFAR-10",             Net(32, 2, 3, 512, 12, 8),                      null),
        new("celeba64_uvit_small",    "U-ViT-S/4",      "CelebA 64",            Net(64, 4, 3, 512, 12, 8),                      null),
        new("imagenet64_uvit_mid",    "U-ViT-M/4",      "ImageNet 64",          Net(64, 4, 3, 768, 16, 12, classes: 1000),      null),
        new("imagenet64_uvit_large",  "U-ViT-L/4",      "ImageNet 64",          Net(64, 4, 3, 1024, 20, 16, classes: 1000),     null),
        new("imagenet256_uvit_large", "U-ViT-L/2",      "ImageNet 256", Net(32, 2, 4, 1024, 20, 16, classes: 1001),    1000),
        new("imagenet256_uvit_huge",  "U-ViT-H/2",      "ImageNet 256", Net(32, 2, 4, 1152, 28, 16, classes: 1001, conv: false), 1000),
        new("imagenet512_uvit_large", "U-ViT-L/4",      "ImageNet 512", Net(64, 4, 4, 1024, 20, 16, classes: 1001),    1000),
        new("imagenet512_uvit_huge",  "U-ViT-H/4",      "ImageNet 512", Net(64, 4, 4, 1152, 28, 16, classes: 1001, conv: false), 1000),
        new("mscoco_uvit_small",      "U-ViT-S/2",      "MS-COCO",     Text(12),                                       null),
        new("mscoco_uvit_small_deep", "U-ViT-S/2-Deep", "MS-COCO",     Text(16),                                       null),
    ];

    /// <summary>
    /// Finds a preset by official config name, by unique paper name ("U-ViT-H/2") or by qualified paper name
    /// ("U-ViT-S/2 CIFAR-10", "U-ViT-L/4 ImageNet 512"); case-insensitive. An ambiguous or unknown name throws with the choices.
    /// </summary>
    public static UViTPreset Get(string name)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        string wanted = name.Trim();
        var byName = All.FirstOrDefault(p => Same(p.Name, wanted) || Same(p.QualifiedPaperName, wanted));
        if (byName is not null) return byName;
        var byPaper = All.Where(p => Same(p.PaperName, wanted)).ToList();
        if (byPaper.Count == 1) return byPaper[0];
        if (byPaper.Count > 1)
            throw new ArgumentException($"'{name}' names {byPaper.Count} official configurations; use one of: " +
                                        string.Join(", ", byPaper.Select(p => $"'{p.QualifiedPaperName}' ({p.Name})")) + ".", nameof(name));
        throw new ArgumentException($"Unknown U-ViT preset '{name}'. Known: " +
                                    string.Join(", ", All.Select(p => $"{p.Name} ({p.QualifiedPaperName})")) + ".", nameof(name));
    }

    /// <summary>
    /// The presets whose state dict has exactly these keys and shapes (models are built on the meta device, so this
    /// allocates no weights). Used to recognise official checkpoints; two presets can share a layout (then both are returned).
    /// </summary>
    public static IReadOnlyList<UViTPreset> MatchStateDict(IReadOnlyDictionary<string, long[]> shapes)
    {
        var matches = new List<UViTPreset>();
        foreach (var preset in All)
        {
            using var model = new UViTNetwork(preset.Config, device: TorchSharp.torch.META);
            var layout = model.state_dict();
            if (layout.Count == shapes.Count && layout.All(kv => shapes.TryGetValue(kv.Key, out var shape) && shape.SequenceEqual(kv.Value.shape)))
                matches.Add(preset);
        }
        return matches;
    }

    private static bool Same(string a, string b) => string.Equals(a, b, StringComparison.OrdinalIgnoreCase);
}
