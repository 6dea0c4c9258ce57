// Key map between Hugging Face diffusers' AutoencoderKL (diffusers/models/autoencoders/vae.py Encoder/Decoder,
// resnet.py ResnetBlock2D, attention_processor.py Attention) and the CompVis latent-diffusion layout we use
// (ldm/modules/diffusionmodules/model.py). Written from the two published naming schemes; the same correspondence
// diffusers' own conversion script (scripts/convert_vae_pt_to_diffusers.py) applies.
//
//   CompVis                                      diffusers
//   {enc,dec}.conv_in / conv_out                 same
//   {enc,dec}.norm_out                           {enc,dec}.conv_norm_out
//   encoder.down.{i}.block.{j}                   encoder.down_blocks.{i}.resnets.{j}
//   encoder.down.{i}.attn.{j}                    encoder.down_blocks.{i}.attentions.{j}
//   encoder.down.{i}.downsample.conv             encoder.down_blocks.{i}.downsamplers.0.conv
//   decoder.up.{i}.block.{j}                     decoder.up_blocks.{L-1-i}.resnets.{j}      (reversed: up_blocks.0 is the LOWEST resolution)
//   decoder.up.{i}.attn.{j}                      decoder.up_blocks.{L-1-i}.attentions.{j}
//   decoder.up.{i}.upsample.conv                 decoder.up_blocks.{L-1-i}.upsamplers.0.conv
//   {enc,dec}.mid.block_1 / block_2              {enc,dec}.mid_block.resnets.0 / resnets.1
//   {enc,dec}.mid.attn_1                         {enc,dec}.mid_block.attentions.0
//   resnet .nin_shortcut                         .conv_shortcut
//   attention .norm / .q / .k / .v / .proj_out   .group_norm / .to_q / .to_k / .to_v / .to_out.0
//                                                (diffusers < 0.14: .query / .key / .value / .proj_attn)
//   quant_conv, post_quant_conv                  same
// diffusers stores the attention projections as Linear weights [C, C]; CompVis as 1x1 convs [C, C, 1, 1].
using System.Text.RegularExpressions;
using static TorchSharp.torch;

namespace UViT.MLNet.Core.Autoencoder;

/// <summary>Renames diffusers-format VAE state-dict keys to the CompVis names (and back) and reshapes the attention weights.</summary>
public static partial class DiffusersVaeKeyMap
{
    private static readonly Dictionary<string, string> ResnetToCompVis = new() { ["conv_shortcut"] = "nin_shortcut" };
    private static readonly Dictionary<string, string> AttentionToCompVis = new()
    {
        ["group_norm"] = "norm", ["to_q"] = "q", ["to_k"] = "k", ["to_v"] = "v", ["to_out.0"] = "proj_out",
        ["query"] = "q", ["key"] = "k", ["value"] = "v", ["proj_attn"] = "proj_out",
    };
    private static readonly Dictionary<string, string> ResnetToDiffusers = new() { ["nin_shortcut"] = "conv_shortcut" };
    private static readonly Dictionary<string, string> AttentionToDiffusers = new()
    {
        ["norm"] = "group_norm", ["q"] = "to_q", ["k"] = "to_k", ["v"] = "to_v", ["proj_out"] = "to_out.0",
    };

    /// <summary>True when <paramref name="keys"/> use diffusers' VAE names (down_blocks, up_blocks, mid_block, conv_norm_out).</summary>
    public static bool IsDiffusersLayout(IEnumerable<string> keys) => keys.Any(k => DiffusersMarker().IsMatch(k));

    /// <summary>
    /// The CompVis name of a diffusers key, for an autoencoder with <paramref name="levels"/> resolution levels
    /// (needed to reverse the decoder's up blocks). Keys that follow neither scheme, or name a level that does not exist,
    /// come back unchanged, so that a strict load reports them under their own name.
    /// </summary>
    public static string ToCompVisKey(string key, int levels)
    {
        var m = DiffusersKey().Match(key);
        if (!m.Success) return key;
        string part = m.Groups["part"].Value, block = m.Groups["block"].Value, rest = m.Groups["rest"].Value;
        string kind = m.Groups["kind"].Value, index = m.Groups["index"].Value;
        if (block == "conv_norm_out") return $"{part}.norm_out.{rest}";
        if (block == "mid_block")
        {
            return (kind, index) switch
            {
                ("resnets", "0" or "1") => $"{part}.mid.block_{int.Parse(index) + 1}.{Rename(rest, ResnetToCompVis)}",
                ("attentions", "0") => $"{part}.mid.attn_1.{Rename(rest, AttentionToCompVis)}",
                _ => key,
            };
        }
        // down_blocks belong to the encoder and up_blocks to the decoder; anything else is not a diffusers VAE key.
        int level = int.Parse(m.Groups["level"].Value);
        if ((part == "encoder") != (block == "down_blocks") || level >= levels) return key;
        if (part == "decoder") level = levels - 1 - level;                // up_blocks.{k} = up.{L-1-k}
        string list = part == "encoder" ? "down" : "up";
        return (kind, index) switch
        {
            ("resnets", _) => $"{part}.{list}.{level}.block.{index}.{Rename(rest, ResnetToCompVis)}",
            ("attentions", _) => $"{part}.{list}.{level}.attn.{index}.{Rename(rest, AttentionToCompVis)}",
            ("downsamplers", "0") when part == "encoder" => $"{part}.down.{level}.downsample.{rest}",
            ("upsamplers", "0") when part == "decoder" => $"{part}.up.{level}.upsample.{rest}",
            _ => key,
        };
    }

    /// <summary>The diffusers name (current naming: to_q/to_k/to_v/to_out.0) of a CompVis key; inverse of <see cref="ToCompVisKey"/>.</summary>
    public static string ToDiffusersKey(string key, int levels)
    {
        var m = CompVisKey().Match(key);
        if (!m.Success) return key;
        string part = m.Groups["part"].Value, rest = m.Groups["rest"].Value;
        int level = m.Groups["level"].Success ? int.Parse(m.Groups["level"].Value) : -1;
        if (level >= levels) return key;
        if (part == "decoder" && level >= 0) level = levels - 1 - level;  // up.{i} = up_blocks.{L-1-i}
        string blocks = part == "encoder" ? "down_blocks" : "up_blocks";
        return m.Groups["block"].Value switch
        {
            "norm_out" => $"{part}.conv_norm_out.{rest}",
            "mid.block_1" => $"{part}.mid_block.resnets.0.{Rename(rest, ResnetToDiffusers)}",
            "mid.block_2" => $"{part}.mid_block.resnets.1.{Rename(rest, ResnetToDiffusers)}",
            "mid.attn_1" => $"{part}.mid_block.attentions.0.{Rename(rest, AttentionToDiffusers)}",
            "block" => $"{part}.{blocks}.{level}.resnets.{m.Groups["index"].Value}.{Rename(rest, ResnetToDiffusers)}",
            "attn" => $"{part}.{blocks}.{level}.attentions.{m.Groups["index"].Value}.{Rename(rest, AttentionToDiffusers)}",
            "downsample" => $"{part}.down_blocks.{level}.downsamplers.0.{rest}",
            "upsample" => $"{part}.up_blocks.{level}.upsamplers.0.{rest}",
            _ => key,
        };
    }

    /// <summary>
    /// A diffusers-format state dict under CompVis names; attention Linear weights [C, C] become conv weights [C, C, 1, 1]
    /// (views of the same data). The input tensors stay owned by the caller; dispose the returned ones too.
    /// </summary>
    /// <exception cref="InvalidDataException">Two keys map to the same CompVis name (e.g. both <c>to_q</c> and <c>query</c>).</exception>
    public static Dictionary<string, Tensor> ToCompVis(IReadOnlyDictionary<string, Tensor> state, int levels) =>
        Convert(state, key => ToCompVisKey(key, levels), renamedIsCompVis: true, (key, t) => IsAttentionProjectionWeight(key) && t.dim() == 2 ? t.reshape(t.shape[0], t.shape[1], 1, 1) : t.alias());

    /// <summary>A CompVis state dict under diffusers names, attention weights as Linear [C, C]; for export and tests.</summary>
    public static Dictionary<string, Tensor> ToDiffusers(IReadOnlyDictionary<string, Tensor> state, int levels) =>
        Convert(state, key => ToDiffusersKey(key, levels), renamedIsCompVis: false, (key, t) => IsAttentionProjectionWeight(key) && t.dim() == 4 ? t.reshape(t.shape[0], t.shape[1]) : t.alias());

    // reshape gets the CompVis-side name of each key (the renamed key when converting to CompVis, the source key otherwise).
    private static Dictionary<string, Tensor> Convert(IReadOnlyDictionary<string, Tensor> state, Func<string, string> rename, bool renamedIsCompVis,
                                                      Func<string, Tensor, Tensor> reshape)
    {
        var result = new Dictionary<string, Tensor>(state.Count);
        var origin = new Dictionary<string, string>(state.Count);
        foreach (var (key, tensor) in state)
        {
            string renamed = rename(key);
            if (origin.TryGetValue(renamed, out var first))
            {
                foreach (var t in result.Values) t.Dispose();
                throw new InvalidDataException($"Checkpoint keys '{first}' and '{key}' both map to '{renamed}'.");
            }
            origin[renamed] = key;
            result[renamed] = reshape(renamedIsCompVis ? renamed : key, tensor);
        }
        return result;
    }

    private static bool IsAttentionProjectionWeight(string compVisKey) => AttentionWeight().IsMatch(compVisKey);

    private static string Rename(string rest, Dictionary<string, string> names)
    {
        foreach (var (from, to) in names)
        {
            if (rest.StartsWith(from + ".", StringComparison.Ordinal)) return to + rest[from.Length..];
        }
        return rest;
    }

    [GeneratedRegex(@"^(encoder|decoder)\.(down_blocks|up_blocks|mid_block|conv_norm_out)\.")]
    private static partial Regex DiffusersMarker();

    // encoder.down_blocks.1.resnets.0.conv1.weight, decoder.mid_block.attentions.0.to_q.bias, encoder.conv_norm_out.weight
    [GeneratedRegex(@"^(?<part>encoder|decoder)\.(?:(?<block>conv_norm_out)|(?<block>down_blocks|up_blocks)\.(?<level>\d+)\.(?<kind>resnets|attentions|downsamplers|upsamplers)\.(?<index>\d+)|(?<block>mid_block)\.(?<kind>resnets|attentions)\.(?<index>\d+))\.(?<rest>.+)$")]
    private static partial Regex DiffusersKey();

    // encoder.down.1.block.0.conv1.weight, decoder.up.0.upsample.conv.bias, encoder.mid.attn_1.q.weight, decoder.norm_out.bias
    [GeneratedRegex(@"^(?<part>encoder|decoder)\.(?:(?<block>norm_out)|(?<block>mid\.block_1|mid\.block_2|mid\.attn_1)|(?:down|up)\.(?<level>\d+)\.(?:(?<block>block|attn)\.(?<index>\d+)|(?<block>downsample|upsample)))\.(?<rest>.+)$")]
    private static partial Regex CompVisKey();

    // CompVis attention projection weights: ...mid.attn_1.q.weight, ...down.1.attn.0.proj_out.weight
    [GeneratedRegex(@"\.(?:attn_1|attn\.\d+)\.(?:q|k|v|proj_out)\.weight$")]
    private static partial Regex AttentionWeight();
}
