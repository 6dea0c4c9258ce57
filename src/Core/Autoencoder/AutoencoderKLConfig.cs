// Constructor arguments of the KL autoencoder: the `ddconfig` of CompVis latent-diffusion
// (ldm/modules/diffusionmodules/model.py Encoder/Decoder, ldm/models/autoencoder.py AutoencoderKL), plus `embed_dim`
// and the latent scale factor that U-ViT's libs/autoencoder.py (FrozenAutoencoderKL) applies. .NET names, official defaults.
using System.Text.Json;

namespace UViT.MLNet.Core.Autoencoder;

/// <summary>
/// The architecture of one KL autoencoder (Stable Diffusion's "KL-f8" is <see cref="StableDiffusionKLF8"/>).
/// Images have <see cref="InChannels"/> channels in [-1, 1]; latents have <see cref="EmbedDim"/> channels and are
/// <see cref="DownsampleFactor"/> times smaller per side.
/// </summary>
public sealed record AutoencoderKLConfig
{
    /// <summary>Scale factor of Stable Diffusion's latents (makes them roughly unit variance): 0.18215.</summary>
    public const double StableDiffusionScaleFactor = 0.18215;

    /// <summary>Scale factor U-ViT's MS-COCO models use with the same autoencoder (their configs' <c>scale_factor=0.23010</c>).</summary>
    public const double MsCocoScaleFactor = 0.23010;

    /// <summary>Base channel count (<c>ch</c>); level i has <c>Ch * ChMult[i]</c> channels.</summary>
    public int Ch { get; init; } = 128;
    /// <summary>Channel multiplier per resolution level (<c>ch_mult</c>); its length is the number of levels.</summary>
    public IReadOnlyList<int> ChMult { get; init; } = [1, 2, 4, 4];
    /// <summary>Residual blocks per encoder level (<c>num_res_blocks</c>); decoder levels have one more.</summary>
    public int NumResBlocks { get; init; } = 2;
    /// <summary>Channels of the encoder output before <c>quant_conv</c> (<c>z_channels</c>).</summary>
    public int ZChannels { get; init; } = 4;
    /// <summary>The encoder outputs mean and log-variance (2 * ZChannels channels) (<c>double_z</c>); AutoencoderKL needs true.</summary>
    public bool DoubleZ { get; init; } = true;
    /// <summary>Image channels in (<c>in_channels</c>).</summary>
    public int InChannels { get; init; } = 3;
    /// <summary>Image channels out (<c>out_ch</c>).</summary>
    public int OutChannels { get; init; } = 3;
    /// <summary>Nominal image side (<c>resolution</c>); only decides where <see cref="AttnResolutions"/> apply.</summary>
    public int Resolution { get; init; } = 256;
    /// <summary>Feature-map sides at which level blocks get self-attention (<c>attn_resolutions</c>); empty for KL-f8.</summary>
    public IReadOnlyList<int> AttnResolutions { get; init; } = [];
    /// <summary>Dropout inside residual blocks (<c>dropout</c>); 0 in every released model.</summary>
    public double Dropout { get; init; }
    /// <summary>Latent channels after <c>quant_conv</c> (<c>embed_dim</c>).</summary>
    public int EmbedDim { get; init; } = 4;
    /// <summary>Latents are <c>ScaleFactor * sample</c>; decoding multiplies by <c>1 / ScaleFactor</c> first.</summary>
    public double ScaleFactor { get; init; } = StableDiffusionScaleFactor;

    /// <summary>Stable Diffusion's KL-f8 autoencoder (the one every U-ViT latent model uses), scale 0.18215.</summary>
    public static AutoencoderKLConfig StableDiffusionKLF8 { get; } = new();

    /// <summary>KL-f8 with the MS-COCO models' scale factor 0.23010.</summary>
    public static AutoencoderKLConfig StableDiffusionKLF8MsCoco { get; } = new() { ScaleFactor = MsCocoScaleFactor };

    /// <summary>Number of resolution levels, <c>len(ch_mult)</c>.</summary>
    public int Levels => ChMult.Count;

    /// <summary>How much smaller a latent is per side: <c>2^(Levels-1)</c> (8 for KL-f8). Image sides must be multiples of it.</summary>
    public int DownsampleFactor => 1 << (Levels - 1);

    /// <summary>Channels at level <paramref name="level"/>, <c>ch * ch_mult[level]</c>.</summary>
    public int LevelChannels(int level) => Ch * ChMult[level];

    // Records compare lists by reference; compare them by content so that two equal configs are Equal.
    public bool Equals(AutoencoderKLConfig? other) =>
        other is not null && Ch == other.Ch && ChMult.SequenceEqual(other.ChMult) && NumResBlocks == other.NumResBlocks &&
        ZChannels == other.ZChannels && DoubleZ == other.DoubleZ && InChannels == other.InChannels &&
        OutChannels == other.OutChannels && Resolution == other.Resolution && AttnResolutions.SequenceEqual(other.AttnResolutions) &&
        Dropout.Equals(other.Dropout) && EmbedDim == other.EmbedDim && ScaleFactor.Equals(other.ScaleFactor);

    public override int GetHashCode() =>
        HashCode.Combine(Ch, string.Join(",", ChMult), NumResBlocks, ZChannels, EmbedDim, Resolution, ScaleFactor);

    /// <summary>Throws <see cref="ArgumentException"/> naming the first inconsistent argument.</summary>
    public AutoencoderKLConfig Validate()
    {
        Require(Ch > 0 && Ch % 32 == 0, $"Ch must be a positive multiple of 32 (GroupNorm has 32 groups); got {Ch}.");
        Require(ChMult.Count > 0 && ChMult.All(m => m > 0), $"ChMult must be a non-empty list of positive multipliers; got [{string.Join(", ", ChMult)}].");
        Require(NumResBlocks > 0, $"NumResBlocks must be positive; got {NumResBlocks}.");
        Require(ZChannels > 0 && EmbedDim > 0, $"ZChannels ({ZChannels}) and EmbedDim ({EmbedDim}) must be positive.");
        Require(DoubleZ, "DoubleZ must be true: AutoencoderKL's encoder outputs a mean and a log-variance.");
        Require(InChannels > 0 && OutChannels > 0, $"InChannels ({InChannels}) and OutChannels ({OutChannels}) must be positive.");
        Require(Resolution > 0, $"Resolution must be positive; got {Resolution}.");
        Require(Dropout is >= 0 and < 1, $"Dropout must lie in [0, 1); got {Dropout}.");
        Require(ScaleFactor > 0 && double.IsFinite(ScaleFactor), $"ScaleFactor must be positive; got {ScaleFactor}.");
        return this;
    }

    private static void Require(bool condition, string message)
    {
        if (!condition) throw new ArgumentException("Invalid autoencoder configuration: " + message);
    }

    /// <summary>
    /// Reads a CompVis <c>ddconfig</c> object (<c>double_z, z_channels, resolution, in_channels, out_ch, ch, ch_mult,
    /// num_res_blocks, attn_resolutions, dropout</c>), as in latent-diffusion's YAML configs, U-ViT's configs and the
    /// fixtures' manifest. Options that would change the architecture away from the released models
    /// (<c>resamp_with_conv=false</c>, <c>attn_type</c> other than "vanilla", <c>tanh_out</c>, <c>give_pre_end</c>,
    /// <c>use_linear_attn</c>) and unknown names are rejected by name.
    /// </summary>
    public static AutoencoderKLConfig FromOfficialDdConfig(JsonElement ddconfig, int embedDim = 4, double scaleFactor = StableDiffusionScaleFactor)
    {
        bool Has(string name, out JsonElement value) => ddconfig.TryGetProperty(name, out value) && value.ValueKind != JsonValueKind.Null;
        int? Int(string name) => Has(name, out var v) ? v.GetInt32() : null;
        int[]? Ints(string name) => Has(name, out var v) ? v.EnumerateArray().Select(e => e.GetInt32()).ToArray() : null;

        string[] known = ["double_z", "z_channels", "resolution", "in_channels", "out_ch", "ch", "ch_mult", "num_res_blocks",
                          "attn_resolutions", "dropout", "resamp_with_conv", "attn_type", "tanh_out", "give_pre_end", "use_linear_attn"];
        var unknown = ddconfig.EnumerateObject().Select(p => p.Name).Where(n => !known.Contains(n)).ToList();
        if (unknown.Count > 0) throw new ArgumentException($"Unknown autoencoder ddconfig argument(s): {string.Join(", ", unknown)}.");
        RejectUnless("resamp_with_conv", v => v.ValueKind == JsonValueKind.True, "true");
        RejectUnless("attn_type", v => v.GetString() == "vanilla", "\"vanilla\"");
        RejectUnless("tanh_out", v => v.ValueKind == JsonValueKind.False, "false");
        RejectUnless("give_pre_end", v => v.ValueKind == JsonValueKind.False, "false");
        RejectUnless("use_linear_attn", v => v.ValueKind == JsonValueKind.False, "false");

        var defaults = StableDiffusionKLF8;
        return new AutoencoderKLConfig
        {
            Ch = Int("ch") ?? defaults.Ch,
            ChMult = Ints("ch_mult") ?? [.. defaults.ChMult],
            NumResBlocks = Int("num_res_blocks") ?? defaults.NumResBlocks,
            ZChannels = Int("z_channels") ?? defaults.ZChannels,
            DoubleZ = Has("double_z", out var dz) ? dz.GetBoolean() : defaults.DoubleZ,
            InChannels = Int("in_channels") ?? defaults.InChannels,
            OutChannels = Int("out_ch") ?? defaults.OutChannels,
            Resolution = Int("resolution") ?? defaults.Resolution,
            AttnResolutions = Ints("attn_resolutions") ?? [],
            Dropout = Has("dropout", out var d) ? d.GetDouble() : 0,
            EmbedDim = embedDim,
            ScaleFactor = scaleFactor,
        }.Validate();

        void RejectUnless(string name, Func<JsonElement, bool> supported, string only)
        {
            if (Has(name, out var value) && !supported(value))
                throw new ArgumentException($"Autoencoder ddconfig '{name}' = {value.GetRawText()} is not supported (only {only}).");
        }
    }

    /// <summary>
    /// Reads an entry that holds a ddconfig (under <c>ddconfig</c> or <c>config</c>) next to <c>embed_dim</c> and optionally
    /// <c>scale_factor</c>: the shape of U-ViT's <c>config.autoencoder</c>, of official_configs.json and of the fixture manifest.
    /// </summary>
    public static AutoencoderKLConfig FromOfficialEntry(JsonElement entry, double? scaleFactor = null)
    {
        if (!entry.TryGetProperty("ddconfig", out var ddconfig) && !entry.TryGetProperty("config", out ddconfig))
            throw new ArgumentException("The autoencoder entry has no 'ddconfig' (or 'config') object.");
        int embedDim = entry.TryGetProperty("embed_dim", out var e) ? e.GetInt32() : 4;
        double scale = scaleFactor ?? (entry.TryGetProperty("scale_factor", out var s) ? s.GetDouble() : StableDiffusionScaleFactor);
        return FromOfficialDdConfig(ddconfig, embedDim, scale);
    }

    /// <summary>Writes the CompVis <c>ddconfig</c> (inverse of <see cref="FromOfficialDdConfig"/>; embed_dim and scale are separate).</summary>
    public Dictionary<string, object> ToOfficialDdConfig() => new()
    {
        ["double_z"] = DoubleZ, ["z_channels"] = ZChannels, ["resolution"] = Resolution, ["in_channels"] = InChannels,
        ["out_ch"] = OutChannels, ["ch"] = Ch, ["ch_mult"] = ChMult.ToArray(), ["num_res_blocks"] = NumResBlocks,
        ["attn_resolutions"] = AttnResolutions.ToArray(), ["dropout"] = Dropout,
    };
}
