// Reads a U-ViT's architecture back from the key names and shapes of its state dict (official layout), for checkpoints that
// come without a config: every constructor argument of a class or unconditional model shows in some shape except num_heads (and qk_scale), which the
// caller gives. Text-to-image models are refused: their token count and image size share one shape.
namespace UViT.MLNet.Core.Networks;

/// <summary>Infers a <see cref="UViTConfig"/> from a state dict's shapes.</summary>
public static class UViTConfigInference
{
    /// <summary>
    /// The architecture whose state dict has these keys and shapes, with <paramref name="numHeads"/> heads (the one argument no
    /// shape records). The result is checked by the caller's strict load, which names any key that still differs.
    /// </summary>
    /// <param name="shapes">Key -> shape, as in the official <c>nnet.state_dict()</c>.</param>
    /// <param name="source">How to name the checkpoint in errors.</param>
    /// <exception cref="ArgumentException">A key the inference needs is missing or has an impossible shape (named).</exception>
    public static UViTConfig Infer(IReadOnlyDictionary<string, long[]> shapes, int numHeads, string source = "checkpoint")
    {
        long[] Shape(string key, int rank) => shapes.TryGetValue(key, out var s) && s.Length == rank ? s
            : throw new ArgumentException($"'{source}' is not a U-ViT state dict in the official layout: key '{key}' is " +
                                          (shapes.TryGetValue(key, out var other) ? $"[{string.Join(", ", other)}], expected rank {rank}." : "missing."));

        var patch = Shape("patch_embed.proj.weight", 4);                      // [D, C, P, P]
        int embedDim = (int)patch[0], channels = (int)patch[1], patchSize = (int)patch[2];
        long tokens = Shape("pos_embed", 3)[1];                               // [1, L, D]
        int inBlocks = shapes.Keys.Count(k => k.StartsWith("in_blocks.", StringComparison.Ordinal) && k.EndsWith(".norm1.weight", StringComparison.Ordinal));
        long hidden = Shape("mid_block.mlp.fc1.weight", 2)[0];                // [hidden, D]
        int numClasses = shapes.ContainsKey("label_emb.weight") ? (int)Shape("label_emb.weight", 2)[0] : -1;
        if (shapes.ContainsKey("context_embed.weight"))   // L = 1 + T + (img/P)^2: one length, two unknowns (334 = 1 + 77 + 256 = 1 + 9 + 324)
            throw new ArgumentException($"'{source}' is a text-to-image U-ViT: its token count and image size cannot be told apart from the shapes; give its config.");
        int extra = numClasses > 0 ? 2 : 1;                                   // [label,] time
        long perPatch = Shape("decoder_pred.weight", 2)[0];                   // [P*P*C, D]
        if (perPatch != channels * patchSize * patchSize)
            throw new ArgumentException($"'{source}': decoder_pred.weight predicts {perPatch} values per patch; patch_embed.proj.weight implies {channels * patchSize * patchSize}.");
        long side = (long)Math.Round(Math.Sqrt(tokens - extra));
        if (tokens <= extra || side * side != tokens - extra)
            throw new ArgumentException($"'{source}': pos_embed has {tokens} tokens, which is not {extra} extra token(s) plus a square number of patches.");
        return new UViTConfig
        {
            ImageSize = (int)side * patchSize, PatchSize = patchSize, InChannels = channels, EmbedDim = embedDim, Depth = 2 * inBlocks,
            NumHeads = numHeads, MlpRatio = (double)hidden / embedDim, QkvBias = shapes.ContainsKey("mid_block.attn.qkv.bias"),
            MlpTimeEmbed = shapes.ContainsKey("time_embed.0.weight"), NumClasses = numClasses, Conv = shapes.ContainsKey("final_layer.weight"),
            Skip = inBlocks == 0 || shapes.ContainsKey("out_blocks.0.skip_linear.weight"),
        }.Validate();
    }
}
