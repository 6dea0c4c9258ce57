// Constructor arguments of the official U-ViT (libs/uvit.py `UViT`, libs/uvit_t2i.py `UViT`), under .NET names.
using System.Text.Json;

namespace UViT.MLNet.Core.Networks;

/// <summary>Which token sequence a U-ViT builds (reference.md section 1, step 3).</summary>
public enum UViTConditioning
{
    /// <summary><c>[time, patches]</c>.</summary>
    Unconditional,
    /// <summary><c>[label, time, patches]</c> - label first.</summary>
    ClassLabel,
    /// <summary><c>[time, context (NumClipTokens), patches]</c> - time first.</summary>
    TextContext,
}

/// <summary>
/// How an out-block fuses its long skip (an ablation option; the official U-ViT concatenates). Bao et al. section 4.1 compare
/// the variants: concatenation followed by a linear layer was best.
/// </summary>
public enum UViTSkipMode
{
    /// <summary>Official: <c>skip_linear(cat([x, skip], -1))</c>.</summary>
    Concat,
    /// <summary>Ablation variant: <c>x + skip</c>, no <c>skip_linear</c> parameters.</summary>
    Add,
}

/// <summary>
/// How the time (and label) reach the network (an ablation option; the official U-ViT feeds them as tokens). Bao et al.
/// section 4.1 compare time as a token with adaptive layer norm and find the token as good or better.
/// </summary>
public enum UViTTimeConditioning
{
    /// <summary>Official: time (and label) are tokens of the sequence.</summary>
    Token,
    /// <summary>
    /// Ablation variant (DiT-style adaLN, not in the official code): no time or label tokens; the time embedding plus the label
    /// embedding, through SiLU, gives every block a per-block scale and shift of both LayerNorms (<c>ada_ln</c>, D -> 4D).
    /// </summary>
    AdaLayerNorm,
}

/// <summary>
/// The architecture of one U-ViT. Defaults equal the official constructor's (<c>mlp_ratio=4, qkv_bias=False,
/// qk_scale=None, mlp_time_embed=False, num_classes=-1, conv=True, skip=True</c>). Set <see cref="ClipDim"/> and
/// <see cref="NumClipTokens"/> for the text-to-image variant, <see cref="NumClasses"/> &gt; 0 for the class-conditional one.
/// </summary>
public sealed record UViTConfig
{
    /// <summary>Side of the (square) input image or latent, in pixels (official <c>img_size</c>).</summary>
    public required int ImageSize { get; init; }
    /// <summary>Patch side P (<c>patch_size</c>); the image is cut into (ImageSize/P)^2 tokens.</summary>
    public required int PatchSize { get; init; }
    /// <summary>Input channels C (<c>in_chans</c>): 3 for pixels, 4 for Stable Diffusion latents.</summary>
    public int InChannels { get; init; } = 3;
    /// <summary>Token width D (<c>embed_dim</c>).</summary>
    public required int EmbedDim { get; init; }
    /// <summary>Number of in + out blocks (<c>depth</c>); the network has depth/2 in-blocks, one mid-block and depth/2 out-blocks.</summary>
    public required int Depth { get; init; }
    /// <summary>Attention heads (<c>num_heads</c>); must divide <see cref="EmbedDim"/>.</summary>
    public required int NumHeads { get; init; }
    /// <summary>MLP hidden width as a multiple of D (<c>mlp_ratio</c>).</summary>
    public double MlpRatio { get; init; } = 4;
    /// <summary>Bias on the qkv projection (<c>qkv_bias</c>).</summary>
    public bool QkvBias { get; init; }
    /// <summary>Attention scale override (<c>qk_scale</c>); null means head_dim^-0.5.</summary>
    public double? QkScale { get; init; }
    /// <summary>A learned 2-layer SiLU MLP on the time embedding (<c>mlp_time_embed</c>); identity when false.</summary>
    public bool MlpTimeEmbed { get; init; }
    /// <summary>Number of class labels including any null class (<c>num_classes</c>); -1 (or 0) for no label token.</summary>
    public int NumClasses { get; init; } = -1;
    /// <summary>A final 3x3 convolution after unpatchify (<c>conv</c>); false only for the H models.</summary>
    public bool Conv { get; init; } = true;
    /// <summary>Long skip connections between in- and out-blocks (<c>skip</c>).</summary>
    public bool Skip { get; init; } = true;
    /// <summary>Ablation option (not an official argument): how out-blocks fuse the long skip; only meaningful with <see cref="Skip"/>.</summary>
    public UViTSkipMode SkipMode { get; init; } = UViTSkipMode.Concat;
    /// <summary>Ablation option (not an official argument): time (and label) as tokens or through adaptive layer norm.</summary>
    public UViTTimeConditioning TimeConditioning { get; init; } = UViTTimeConditioning.Token;
    /// <summary>Width of the text context tokens (<c>clip_dim</c>); set for the text-to-image variant.</summary>
    public int? ClipDim { get; init; }
    /// <summary>Number of text context tokens (<c>num_clip_token</c>); set for the text-to-image variant.</summary>
    public int? NumClipTokens { get; init; }

    /// <summary>Which token sequence this network builds.</summary>
    public UViTConditioning Conditioning =>
        ClipDim is not null ? UViTConditioning.TextContext : NumClasses > 0 ? UViTConditioning.ClassLabel : UViTConditioning.Unconditional;

    /// <summary>
    /// Tokens before the patches: 2 (label, time), 1 + NumClipTokens (time, context) or 1 (time); with adaptive layer norm
    /// the time and label are no tokens (NumClipTokens or 0).
    /// </summary>
    public int ExtraTokens => TimeConditioning == UViTTimeConditioning.AdaLayerNorm ? NumClipTokens ?? 0 : Conditioning switch
    {
        UViTConditioning.ClassLabel => 2,
        UViTConditioning.TextContext => 1 + NumClipTokens!.Value,
        _ => 1,
    };

    /// <summary>Patches per side, ImageSize / PatchSize.</summary>
    public int PatchesPerSide => ImageSize / PatchSize;

    /// <summary>Total tokens L = ExtraTokens + (ImageSize/PatchSize)^2.</summary>
    public int TokenCount => ExtraTokens + PatchesPerSide * PatchesPerSide;

    /// <summary>MLP hidden width, <c>int(D * mlp_ratio)</c>.</summary>
    public int MlpHiddenDim => (int)(EmbedDim * MlpRatio);

    /// <summary>
    /// Forward GFLOPs of one image at 2 FLOPs per multiply-add (what a GEMM's GFLOP/s counts), from the network's linear and
    /// attention products. The paper's "GFLOPs" count multiply-adds: half this (U-ViT-S/2 on CIFAR-10: 12.2 vs 24.4 here).
    /// </summary>
    public double ForwardGflops
    {
        get
        {
            double tokens = TokenCount, d = EmbedDim, blocks = Depth + 1;
            double perBlock = tokens * (4 * d * d + 2 * d * MlpHiddenDim) + 2 * tokens * tokens * d;           // qkv + proj + mlp, q k^T and a v
            double skips = Skip && SkipMode == UViTSkipMode.Concat ? Depth / 2 * tokens * 2 * d * d : 0;      // skip_linear (none when added)
            double adaLn = TimeConditioning == UViTTimeConditioning.AdaLayerNorm ? blocks * 4 * d * d : 0;    // ada_ln: one vector per image
            double io = tokens * (PatchSize * PatchSize * InChannels) * d * 2;                                 // patch embedding and decoder
            return 2 * (blocks * perBlock + skips + adaLn + io) / 1e9;
        }
    }

    /// <summary>Throws <see cref="ArgumentException"/> naming the first inconsistent argument.</summary>
    public UViTConfig Validate()
    {
        Require(ImageSize > 0, $"ImageSize must be positive; got {ImageSize}.");
        Require(PatchSize > 0 && ImageSize % PatchSize == 0, $"ImageSize {ImageSize} must be a multiple of PatchSize {PatchSize}.");
        Require(InChannels > 0, $"InChannels must be positive; got {InChannels}.");
        Require(EmbedDim > 0 && NumHeads > 0 && EmbedDim % NumHeads == 0, $"EmbedDim {EmbedDim} must be a positive multiple of NumHeads {NumHeads}.");
        Require(Depth >= 0, $"Depth must be non-negative; got {Depth}.");
        Require(MlpRatio > 0, $"MlpRatio must be positive; got {MlpRatio}.");
        Require((ClipDim is null) == (NumClipTokens is null), "ClipDim and NumClipTokens must be set together (text-to-image U-ViT).");
        Require(ClipDim is null or > 0 && NumClipTokens is null or > 0, "ClipDim and NumClipTokens must be positive.");
        Require(ClipDim is null || NumClasses <= 0, "A U-ViT is conditioned on class labels or on text context, not both.");
        Require(Skip || SkipMode == UViTSkipMode.Concat, "SkipMode Add needs the long skips (Skip = true).");
        Require(Enum.IsDefined(SkipMode) && Enum.IsDefined(TimeConditioning), $"Unknown SkipMode {SkipMode} or TimeConditioning {TimeConditioning}.");
        return this;
    }

    private static void Require(bool condition, string message)
    {
        if (!condition) throw new ArgumentException("Invalid U-ViT configuration: " + message);
    }

    /// <summary>
    /// Reads the official constructor arguments (<c>img_size, patch_size, in_chans, embed_dim, depth, num_heads, mlp_ratio,
    /// qkv_bias, qk_scale, mlp_time_embed, num_classes, conv, skip, clip_dim, num_clip_token</c>) from a JSON object, as
    /// found in the official configs and the fixtures' manifest. <c>use_checkpoint</c> (activation checkpointing) is
    /// accepted and ignored: it changes memory, not results. Our ablation options are read from <c>skip_mode</c>
    /// (<c>"add"</c>) and <c>time_conditioning</c> (<c>"adaln"</c>), which official configs never hold. Unknown arguments are
    /// rejected by name.
    /// </summary>
    public static UViTConfig FromOfficialArguments(JsonElement arguments)
    {
        int? Int(string name) => arguments.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null ? v.GetInt32() : null;
        double? Real(string name) => arguments.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null ? v.GetDouble() : null;
        bool? Flag(string name) => arguments.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null ? v.GetBoolean() : null;
        string? Text(string name) => arguments.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null ? v.GetString() : null;

        string[] known = ["img_size", "patch_size", "in_chans", "embed_dim", "depth", "num_heads", "mlp_ratio", "qkv_bias", "qk_scale",
                          "mlp_time_embed", "num_classes", "conv", "skip", "clip_dim", "num_clip_token", "use_checkpoint",
                          SkipModeArgument, TimeConditioningArgument];
        var unknown = arguments.EnumerateObject().Select(p => p.Name).Where(n => !known.Contains(n)).ToList();
        if (unknown.Count > 0) throw new ArgumentException($"Unknown U-ViT constructor argument(s): {string.Join(", ", unknown)}.");

        var defaults = new UViTConfig { ImageSize = 224, PatchSize = 16, EmbedDim = 768, Depth = 12, NumHeads = 12 };
        bool text = Int("clip_dim") is not null || Int("num_clip_token") is not null;
        return new UViTConfig
        {
            ImageSize = Int("img_size") ?? defaults.ImageSize,
            PatchSize = Int("patch_size") ?? defaults.PatchSize,
            InChannels = Int("in_chans") ?? defaults.InChannels,
            EmbedDim = Int("embed_dim") ?? defaults.EmbedDim,
            Depth = Int("depth") ?? defaults.Depth,
            NumHeads = Int("num_heads") ?? defaults.NumHeads,
            MlpRatio = Real("mlp_ratio") ?? defaults.MlpRatio,
            QkvBias = Flag("qkv_bias") ?? defaults.QkvBias,
            QkScale = Real("qk_scale"),
            MlpTimeEmbed = Flag("mlp_time_embed") ?? defaults.MlpTimeEmbed,
            NumClasses = Int("num_classes") ?? defaults.NumClasses,
            Conv = Flag("conv") ?? defaults.Conv,
            Skip = Flag("skip") ?? defaults.Skip,
            SkipMode = Text(SkipModeArgument) switch
            {
                null or "concat" => UViTSkipMode.Concat,
                "add" => UViTSkipMode.Add,
                var other => throw new ArgumentException($"Unknown {SkipModeArgument} '{other}': 'concat' or 'add'."),
            },
            TimeConditioning = Text(TimeConditioningArgument) switch
            {
                null or "token" => UViTTimeConditioning.Token,
                "adaln" => UViTTimeConditioning.AdaLayerNorm,
                var other => throw new ArgumentException($"Unknown {TimeConditioningArgument} '{other}': 'token' or 'adaln'."),
            },
            // The text-to-image constructor defaults to CLIP ViT-L/14: 77 tokens of width 768.
            ClipDim = text ? Int("clip_dim") ?? 768 : null,
            NumClipTokens = text ? Int("num_clip_token") ?? 77 : null,
        }.Validate();
    }

    /// <summary>The argument name of <see cref="SkipMode"/> (ours, written only when not Concat).</summary>
    public const string SkipModeArgument = "skip_mode";
    /// <summary>The argument name of <see cref="TimeConditioning"/> (ours, written only when not Token).</summary>
    public const string TimeConditioningArgument = "time_conditioning";

    /// <summary>
    /// Writes the official constructor arguments (inverse of <see cref="FromOfficialArguments"/>); the ablation options are
    /// added only when not default, so an official architecture's arguments stay exactly official.
    /// </summary>
    public Dictionary<string, object?> ToOfficialArguments()
    {
        var args = new Dictionary<string, object?>
        {
            ["img_size"] = ImageSize, ["patch_size"] = PatchSize, ["in_chans"] = InChannels, ["embed_dim"] = EmbedDim,
            ["depth"] = Depth, ["num_heads"] = NumHeads, ["mlp_ratio"] = MlpRatio, ["qkv_bias"] = QkvBias,
            ["qk_scale"] = QkScale, ["mlp_time_embed"] = MlpTimeEmbed, ["conv"] = Conv, ["skip"] = Skip,
        };
        if (Conditioning == UViTConditioning.TextContext)
        {
            args["clip_dim"] = ClipDim;
            args["num_clip_token"] = NumClipTokens;
        }
        else
        {
            args["num_classes"] = NumClasses;
        }
        if (SkipMode != UViTSkipMode.Concat) args[SkipModeArgument] = "add";
        if (TimeConditioning != UViTTimeConditioning.Token) args[TimeConditioningArgument] = "adaln";
        return args;
    }
}
