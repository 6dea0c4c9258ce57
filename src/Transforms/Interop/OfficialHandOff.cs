// What the official U-ViT code (github baofff/U-ViT) needs besides the weights to continue training a model, and what this
// library needs to turn the weights back into the same model zip: written by `uvit export` as config.json, read by `uvit import`.
using System.Text.Json;
using System.Text.Json.Serialization;
using UViT.MLNet.Core.Generation;
using UViT.MLNet.Core.Networks;
using UViT.MLNet.Core.Training;
using UViT.MLNet.Transforms.Generation;

namespace UViT.MLNet.Transforms.Interop;

/// <summary>The optimisation values of an official config (<c>config.optimizer</c>, <c>lr_scheduler</c>, <c>ema_rate</c>, <c>dataset.p_uncond</c>).</summary>
/// <param name="Source">Where the values come from (the model zip does not record the recipe it was trained with).</param>
public sealed record OfficialRecipe(
    [property: JsonPropertyName("lr")] double LearningRate,
    [property: JsonPropertyName("betas")] double[] Betas,
    [property: JsonPropertyName("weight_decay")] double WeightDecay,
    [property: JsonPropertyName("warmup_steps")] int WarmupSteps,
    [property: JsonPropertyName("ema_rate")] double EmaRate,
    [property: JsonPropertyName("p_uncond")] double ConditionDropProbability,
    [property: JsonPropertyName("batch_size")] int BatchSize,
    [property: JsonPropertyName("source")] string Source);

/// <summary>The latent side of a latent model: its autoencoder and scale factor.</summary>
/// <param name="IsStableDiffusionKLF8">The decoder has the architecture of Stable Diffusion's KL-f8, the official autoencoder's.</param>
/// <param name="ScaleFactor">Latents are ScaleFactor x the autoencoder's sample (official 0.18215; 0.23010 for MS-COCO).</param>
/// <param name="Note">What the official code needs (its autoencoder file) and what could not be checked (the weights themselves).</param>
public sealed record OfficialLatent(
    [property: JsonPropertyName("autoencoder_is_kl_f8")] bool IsStableDiffusionKLF8,
    [property: JsonPropertyName("scale_factor")] double ScaleFactor,
    [property: JsonPropertyName("note")] string Note);

/// <summary>The sampling settings of the model zip (official <c>config.sample</c>: sample_steps, cfg, scale).</summary>
public sealed record OfficialSampling(
    [property: JsonPropertyName("sampler")] SamplerKind Sampler,
    [property: JsonPropertyName("sample_steps")] int Steps,
    [property: JsonPropertyName("scale")] double GuidanceScale,
    [property: JsonPropertyName("use_ema")] bool UseEmaWeights,
    [property: JsonPropertyName("ddim_eta")] double DdimEta)
{
    /// <summary>As this library's settings.</summary>
    public SamplerSettings ToSettings() => new() { Sampler = Sampler, Steps = Steps, GuidanceScale = GuidanceScale, UseEmaWeights = UseEmaWeights, DdimEta = DdimEta };

    /// <summary>From this library's settings.</summary>
    public static OfficialSampling From(SamplerSettings s) => new(s.Sampler, s.Steps, s.GuidanceScale, s.UseEmaWeights, s.DdimEta);
}

/// <summary>
/// The hand-off file (<c>config.json</c>) between this library and the official training code: the official <c>config.nnet</c>
/// arguments, the training script that matches the noise schedule, the recipe, and the generation settings of the model zip.
/// </summary>
public sealed record OfficialHandOff
{
    /// <summary>The format tag of config.json.</summary>
    public const string CurrentFormat = "uvit-mlnet-official-handoff/1";
    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true, Converters = { new JsonStringEnumConverter() }, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    [JsonPropertyName("format")] public string Format { get; init; } = CurrentFormat;
    /// <summary>The official <c>config.nnet</c>: <c>name</c> (uvit or uvit_t2i) and the constructor arguments.</summary>
    [JsonPropertyName("nnet")] public required Dictionary<string, object?> Nnet { get; init; }
    /// <summary>The official configuration with exactly this architecture, or null.</summary>
    [JsonPropertyName("preset")] public string? Preset { get; init; }
    [JsonPropertyName("schedule")] public required NoiseScheduleKind Schedule { get; init; }
    /// <summary>The official script that trains this kind of model with this schedule, or null when the official code has none.</summary>
    [JsonPropertyName("train_script")] public string? TrainScript { get; init; }
    [JsonPropertyName("recipe")] public required OfficialRecipe Recipe { get; init; }
    /// <summary>The label of the unconditional branch (guided class models), or null.</summary>
    [JsonPropertyName("null_class")] public long? NullClass { get; init; }
    [JsonPropertyName("class_names")] public string[] ClassNames { get; init; } = [];
    /// <summary>Range of the generator's output vector (this library's; the official code works in [-1, 1]).</summary>
    [JsonPropertyName("pixel_range")] public PixelRange PixelRange { get; init; } = PixelRange.Symmetric;
    [JsonPropertyName("sampling")] public required OfficialSampling Sampling { get; init; }
    /// <summary>The attention kernel of the model zip (same function, other rounding), so that an import computes exactly what was exported.</summary>
    [JsonPropertyName("attention")] public AttentionKernel Attention { get; init; } = AttentionKernel.Auto;
    [JsonPropertyName("latent")] public OfficialLatent? Latent { get; init; }
    /// <summary>What the official side must know (no matching script, recipe not recorded, ...).</summary>
    [JsonPropertyName("notes")] public string[] Notes { get; init; } = [];

    /// <summary>The network, from <see cref="Nnet"/>.</summary>
    public UViTConfig NetworkConfig()
    {
        var arguments = Nnet.Where(kv => kv.Key != "name").ToDictionary(kv => kv.Key, kv => kv.Value);
        return UViTConfig.FromOfficialArguments(JsonSerializer.SerializeToElement(arguments));
    }

    /// <summary>config.json's text.</summary>
    public string ToJson() => JsonSerializer.Serialize(this, Json);

    /// <summary>Reads config.json.</summary>
    /// <exception cref="InvalidDataException">Not a hand-off file of this format, or a value is missing or malformed (named).</exception>
    public static OfficialHandOff Read(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"Hand-off config '{path}' does not exist.", path);
        try
        {
            var handOff = JsonSerializer.Deserialize<OfficialHandOff>(File.ReadAllText(path), Json)
                          ?? throw new InvalidDataException($"'{path}' holds null, not a hand-off config.");
            if (handOff.Format != CurrentFormat)
                throw new InvalidDataException($"'{path}' has format '{handOff.Format}'; this version reads '{CurrentFormat}' (files written by `uvit export`).");
            handOff.NetworkConfig();                                                           // refuses unknown or inconsistent arguments
            return handOff;
        }
        catch (Exception e) when (e is JsonException or ArgumentException or NotSupportedException)
        {
            throw new InvalidDataException($"'{path}' is not a valid hand-off config (written by `uvit export`): {e.Message}", e);
        }
    }
}
