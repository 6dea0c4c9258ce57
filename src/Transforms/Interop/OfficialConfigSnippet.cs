// The hand-off as Python lines for an official config file (configs/*.py of github baofff/U-ViT, ml_collections style), so
// that the official run uses exactly the exported network and the recipe's values.
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace UViT.MLNet.Transforms.Interop;

/// <summary>Renders <see cref="OfficialHandOff"/> as lines to paste into an official <c>get_config()</c>.</summary>
public static class OfficialConfigSnippet
{
    /// <summary>The snippet: config.nnet, optimizer, lr_scheduler, ema_rate, and as comments the dataset, train and sample values.</summary>
    public static string Render(OfficialHandOff handOff)
    {
        var r = handOff.Recipe;
        var text = new StringBuilder();
        text.AppendLine("# Values for an official U-ViT config (github.com/baofff/U-ViT, configs/*.py), written by `uvit export`.");
        text.AppendLine("# Paste them into get_config() of the config you train with, after its own assignments (keep its dataset paths);");
        if (handOff.TrainScript is { } script) text.AppendLine($"# train with {script} (it matches the {handOff.Schedule} noise schedule of this model).");
        foreach (string note in handOff.Notes) text.AppendLine("# NOTE: " + note);
        text.AppendLine("config.nnet = d(");
        foreach (var (name, value) in handOff.Nnet.Where(kv => kv.Value is not null)) text.AppendLine($"    {name}={Literal(value)},");
        text.AppendLine(")");
        text.AppendLine($"config.optimizer = d(name='adamw', lr={Literal(r.LearningRate)}, weight_decay={Literal(r.WeightDecay)}, " +
                        $"betas=({Literal(r.Betas[0])}, {Literal(r.Betas[1])}))");
        text.AppendLine($"config.lr_scheduler = d(name='customized', warmup_steps={r.WarmupSteps})");
        text.AppendLine($"config.ema_rate = {Literal(r.EmaRate)}  # read by train*.py as config.get('ema_rate', 0.9999)");
        text.AppendLine($"# recipe source: {r.Source}");
        bool guided = handOff.NullClass is not null || handOff.Nnet["name"]?.ToString() == "uvit_t2i";
        text.AppendLine(guided
            ? $"# config.dataset: cfg=True, p_uncond={Literal(r.ConditionDropProbability)}" + (handOff.NullClass is { } n ? $" (null class {n})" : "")
            : "# config.dataset: no classifier-free guidance (cfg=False or absent)");
        text.AppendLine($"# config.train.batch_size: {r.BatchSize} in the recipe; the official runs split it over all GPUs");
        var s = handOff.Sampling;
        text.AppendLine($"# config.sample: sample_steps={s.Steps}, cfg={(s.GuidanceScale != 0 ? "True" : "False")}, scale={Literal(s.GuidanceScale)} ({s.Sampler} here)");
        if (handOff.Latent is { } latent)
        {
            text.AppendLine($"config.z_shape = ({handOff.Nnet["in_chans"]}, {handOff.Nnet["img_size"]}, {handOff.Nnet["img_size"]})");
            text.AppendLine("config.autoencoder = d(pretrained_path='assets/stable-diffusion/autoencoder_kl.pth'" +
                            (Math.Abs(latent.ScaleFactor - 0.18215) > 1e-9 ? $", scale_factor={Literal(latent.ScaleFactor)})" : ")"));
            text.AppendLine("# " + latent.Note);
        }
        return text.ToString();
    }

    /// <summary>A Python literal: True/False, None, 'text', or a number in invariant culture.</summary>
    private static string Literal(object? value) => value switch
    {
        null => "None",
        bool b => b ? "True" : "False",
        string s => $"'{s}'",
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        float f => f.ToString("R", CultureInfo.InvariantCulture),
        IFormattable n => n.ToString(null, CultureInfo.InvariantCulture),
        JsonElement { ValueKind: JsonValueKind.True } => "True",
        JsonElement { ValueKind: JsonValueKind.False } => "False",
        JsonElement { ValueKind: JsonValueKind.String } e => $"'{e.GetString()}'",
        JsonElement { ValueKind: JsonValueKind.Null } => "None",
        JsonElement e => e.GetRawText(),
        _ => value.ToString() ?? "None",
    };
}
