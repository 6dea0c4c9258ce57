// Recognises a KL autoencoder checkpoint and reads its architecture off the tensor shapes (for `uvit inspect`), in any
// layout AutoencoderCheckpoint loads. The inferred config is confirmed by building it (on the meta device, no memory)
// and comparing every key and shape, so a "match" means the file loads strictly into that config.
using System.Text.RegularExpressions;
using static TorchSharp.torch;

namespace UViT.MLNet.Core.Autoencoder;

/// <summary>What <see cref="AutoencoderConfigInference.Infer"/> found.</summary>
/// <param name="Config">The architecture (scale factor: Stable Diffusion's; the file does not record it).</param>
/// <param name="Layout">The layout of the file's keys.</param>
/// <param name="ParameterCount">Elements of the autoencoder's tensors (loss.* and other models' keys excluded).</param>
/// <param name="IsStableDiffusionKLF8">True when the architecture is Stable Diffusion's KL-f8, the one U-ViT's latent models use.</param>
/// <param name="AttentionLevelsUncertain">True when level blocks carry attention: which resolution they sit at depends on
/// <c>resolution</c>, which the weights do not record (256 is assumed).</param>
public sealed record InferredAutoencoder(AutoencoderKLConfig Config, AutoencoderCheckpointLayout Layout, long ParameterCount,
                                         bool IsStableDiffusionKLF8, bool AttentionLevelsUncertain);

/// <summary>Infers a <see cref="AutoencoderKLConfig"/> from a state dict.</summary>
public static partial class AutoencoderConfigInference
{
    /// <summary>The autoencoder <paramref name="state"/> holds, or null when it is not a (complete) KL autoencoder.</summary>
    public static InferredAutoencoder? Infer(IReadOnlyDictionary<string, Tensor> state)
    {
        int levels = state.Keys.Select(k => LevelPattern().Match(k)).Where(m => m.Success).Select(m => int.Parse(m.Groups[1].Value)).DefaultIfEmpty(-1).Max() + 1;
        if (levels < 1) return null;
        var (normalized, report) = AutoencoderCheckpoint.Normalize(state, levels);
        try
        {
            var shapes = normalized.ToDictionary(kv => kv.Key, kv => kv.Value.shape);
            var config = FromShapes(shapes, levels);
            if (config is null || !Builds(config, shapes)) return null;
            return new InferredAutoencoder(config, report.Layout, normalized.Values.Sum(t => t.numel()),
                                           config with { ScaleFactor = AutoencoderKLConfig.StableDiffusionScaleFactor } == AutoencoderKLConfig.StableDiffusionKLF8,
                                           config.AttnResolutions.Count > 0);
        }
        finally
        {
            foreach (var t in normalized.Values) t.Dispose();
        }
    }

    // CompVis "encoder.down.3.", diffusers "encoder.down_blocks.3.", both optionally under "first_stage_model.".
    [GeneratedRegex(@"^(?:first_stage_model\.)?encoder\.down(?:_blocks)?\.(\d+)\.")]
    private static partial Regex LevelPattern();

    private static AutoencoderKLConfig? FromShapes(Dictionary<string, long[]> shapes, int levels)
    {
        if (!shapes.TryGetValue("encoder.conv_in.weight", out var convIn) || !shapes.TryGetValue("quant_conv.weight", out var quant) ||
            !shapes.TryGetValue("encoder.conv_out.weight", out var convOut) || !shapes.TryGetValue("decoder.conv_out.weight", out var decOut))
            return null;
        int ch = (int)convIn[0];
        var chMult = new int[levels];
        for (int i = 0; i < levels; i++)
        {
            if (!shapes.TryGetValue($"encoder.down.{i}.block.0.conv2.weight", out var conv)) return null;
            chMult[i] = (int)(conv[0] / ch);
        }
        int resBlocks = shapes.Keys.Where(k => k.StartsWith("encoder.down.0.block.", StringComparison.Ordinal))
                              .Select(k => int.Parse(k.Split('.')[4])).Max() + 1;
        const int resolution = 256;
        var attention = Enumerable.Range(0, levels).Where(i => shapes.ContainsKey($"encoder.down.{i}.attn.0.q.weight")).Select(i => resolution >> i).ToArray();
        return new AutoencoderKLConfig
        {
            Ch = ch, ChMult = chMult, NumResBlocks = resBlocks, ZChannels = (int)(convOut[0] / 2), InChannels = (int)convIn[1], OutChannels = (int)decOut[0],
            Resolution = resolution, AttnResolutions = attention, EmbedDim = (int)(quant[0] / 2),
        };
    }

    // Builds the config without memory and compares every key and shape.
    private static bool Builds(AutoencoderKLConfig config, Dictionary<string, long[]> shapes)
    {
        try { config.Validate(); }
        catch (ArgumentException) { return false; }
        using var model = new AutoencoderKL(config, device: META);
        var expected = model.state_dict();
        return expected.Count == shapes.Count && expected.All(kv => shapes.TryGetValue(kv.Key, out var s) && s.SequenceEqual(kv.Value.shape));
    }
}
