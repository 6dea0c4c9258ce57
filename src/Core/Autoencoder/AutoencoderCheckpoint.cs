// Loads user autoencoder checkpoints in the three layouts they come in, into our CompVis-named AutoencoderKL:
//  * CompVis / U-ViT: the flat state dict of U-ViT's assets/stable-diffusion/autoencoder_kl.pth (our own key names);
//    an AutoencoderKL training checkpoint adds its loss module's weights (loss.*: discriminator, LPIPS, logvar).
//  * latent-diffusion: a LatentDiffusion model's state dict (e.g. Stable Diffusion's .ckpt) holds the autoencoder
//    under first_stage_model.* next to the denoiser (model.*) and the text encoder (cond_stage_model.*).
//  * diffusers: vae/diffusion_pytorch_model.safetensors, renamed by DiffusersVaeKeyMap.
// After normalising, the load is strict: anything left over or missing fails with the offending keys named.
using UViT.MLNet.Core.Checkpoints;
using static TorchSharp.torch;

namespace UViT.MLNet.Core.Autoencoder;

/// <summary>The key layout an autoencoder checkpoint was found in.</summary>
public enum AutoencoderCheckpointLayout
{
    /// <summary>CompVis names at the top level (U-ViT's autoencoder_kl.pth, an AutoencoderKL training checkpoint).</summary>
    CompVis,
    /// <summary>A latent-diffusion model whose autoencoder sits under <c>first_stage_model.</c>.</summary>
    LatentDiffusion,
    /// <summary>Hugging Face diffusers' AutoencoderKL names.</summary>
    Diffusers,
}

/// <summary>What normalising a checkpoint did.</summary>
/// <param name="Layout">The layout the keys were found in.</param>
/// <param name="DroppedKeys">Keys that belong to other models and were left out (loss.*, and outside first_stage_model.* for latent-diffusion checkpoints).</param>
public sealed record AutoencoderCheckpointReport(AutoencoderCheckpointLayout Layout, IReadOnlyList<string> DroppedKeys);

/// <summary>Reads autoencoder checkpoints of any supported layout into an <see cref="AutoencoderKL"/>.</summary>
public static class AutoencoderCheckpoint
{
    /// <summary>The prefix of the autoencoder inside a latent-diffusion model's state dict.</summary>
    public const string LatentDiffusionPrefix = "first_stage_model.";

    /// <summary>The prefix of AutoencoderKL's training loss (discriminator, LPIPS, logvar), which inference does not use.</summary>
    public const string LossPrefix = "loss.";

    /// <summary>
    /// Detects the layout of <paramref name="state"/> and returns it under CompVis names: the latent-diffusion prefix stripped
    /// (other models' keys dropped), <c>loss.*</c> dropped, diffusers names mapped. Returned tensors are new handles
    /// (views of the input's data): dispose them as well as the input's.
    /// </summary>
    /// <param name="levels">Resolution levels of the target autoencoder (<c>len(ch_mult)</c>), to reverse diffusers' up blocks.</param>
    public static (Dictionary<string, Tensor> State, AutoencoderCheckpointReport Report) Normalize(IReadOnlyDictionary<string, Tensor> state, int levels)
    {
        var layout = AutoencoderCheckpointLayout.CompVis;
        var dropped = new List<string>();
        IEnumerable<KeyValuePair<string, string>> names = state.Keys.Select(k => KeyValuePair.Create(k, k)); // (source key, current name)

        if (state.Keys.Any(k => k.StartsWith(LatentDiffusionPrefix, StringComparison.Ordinal)))
        {
            layout = AutoencoderCheckpointLayout.LatentDiffusion;
            dropped.AddRange(state.Keys.Where(k => !k.StartsWith(LatentDiffusionPrefix, StringComparison.Ordinal)));
            names = names.Where(n => n.Value.StartsWith(LatentDiffusionPrefix, StringComparison.Ordinal))
                         .Select(n => KeyValuePair.Create(n.Key, n.Value[LatentDiffusionPrefix.Length..]));
        }
        var kept = new Dictionary<string, Tensor>();
        foreach (var (source, name) in names)
        {
            if (name.StartsWith(LossPrefix, StringComparison.Ordinal)) dropped.Add(source);
            else kept[name] = state[source];
        }

        if (DiffusersVaeKeyMap.IsDiffusersLayout(kept.Keys))
        {
            // A latent-diffusion container around diffusers names does not exist in the wild; report the inner layout.
            layout = AutoencoderCheckpointLayout.Diffusers;
            return (DiffusersVaeKeyMap.ToCompVis(kept, levels), new AutoencoderCheckpointReport(layout, dropped));
        }
        return (kept.ToDictionary(kv => kv.Key, kv => kv.Value.alias()), new AutoencoderCheckpointReport(layout, dropped));
    }

    /// <summary>Normalises <paramref name="state"/> (see <see cref="Normalize"/>) and loads it strictly into <paramref name="model"/>.</summary>
    /// <param name="source">How to name the checkpoint in errors (usually its path).</param>
    /// <exception cref="CheckpointMismatchException">Keys or shapes still differ; every offending key is named (CompVis names).</exception>
    public static AutoencoderCheckpointReport Load(AutoencoderKL model, IReadOnlyDictionary<string, Tensor> state, string source = "state dict")
    {
        var (normalized, report) = Normalize(state, model.Config.Levels);
        try
        {
            StateDictLoader.Load(model, normalized, strict: true, source: $"{source} ({report.Layout} layout)");
            return report;
        }
        catch (CheckpointMismatchException e) when (report.Layout == AutoencoderCheckpointLayout.Diffusers)
        {
            // Name unexpected and mis-shaped keys as the file spells them too, so they can be found in it.
            string Both(string compVis) =>
                DiffusersVaeKeyMap.ToDiffusersKey(compVis, model.Config.Levels) is var original && original != compVis && state.ContainsKey(original)
                    ? $"{compVis} (file: {original})" : compVis;
            throw new CheckpointMismatchException($"{source} ({report.Layout} layout, keys mapped to CompVis names)", e.MissingKeys,
                e.UnexpectedKeys.Select(Both).ToList(), e.ShapeMismatches.Select(m => Both(m[..m.IndexOf(':')]) + m[m.IndexOf(':')..]).ToList(), null);
        }
        finally
        {
            foreach (var tensor in normalized.Values) tensor.Dispose();
        }
    }

    /// <summary>Reads <paramref name="path"/> (safetensors or torch.save, any supported layout) and loads it strictly.</summary>
    public static AutoencoderCheckpointReport LoadFile(AutoencoderKL model, string path)
    {
        var state = StateDictFile.Read(path);
        try
        {
            return Load(model, state, path);
        }
        finally
        {
            foreach (var tensor in state.Values) tensor.Dispose();
        }
    }
}
