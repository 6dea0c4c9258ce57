// Optimisation settings of the official U-ViT configs (configs/*.py in github baofff/U-ViT; reference.md section 3).
using UViT.MLNet.Core.Networks;

namespace UViT.MLNet.Core.Training;

/// <summary>Which forward process a model is trained with.</summary>
public enum NoiseScheduleKind
{
    /// <summary>Continuous VP, beta 0.1 to 20, t ~ U[0, 1), network time 999 t (pixel models and the L latent models).</summary>
    ContinuousVP,
    /// <summary>Stable Diffusion's 1000 scaled-linear betas, n ~ U{1..1000}, network time n (H latent models, MS-COCO).</summary>
    DiscreteSD,
}

/// <summary>
/// How to train: AdamW over all parameters with a linear warm-up stepped after each optimiser step (so the first step runs at
/// lr 0), an EMA of the parameters, optional gradient clipping and accumulation, and classifier-free-guidance dropout.
/// Defaults are the official CIFAR-10 / ImageNet ones; <see cref="ForPreset"/> gives each official configuration's values.
/// </summary>
public sealed record TrainingRecipe
{
    /// <summary>Peak learning rate (official 2e-4; 3e-4 for ImageNet 64).</summary>
    public double LearningRate { get; init; } = 2e-4;
    /// <summary>AdamW weight decay, applied to every parameter (pos_embed, biases and norms included, as the official code).</summary>
    public double WeightDecay { get; init; } = 0.03;
    /// <summary>AdamW beta1 (official 0.99; 0.9 for MS-COCO).</summary>
    public double Beta1 { get; init; } = 0.99;
    /// <summary>AdamW beta2 (official 0.99; 0.999 for CIFAR-10; 0.9 for MS-COCO).</summary>
    public double Beta2 { get; init; } = 0.99;
    /// <summary>Linear warm-up length in optimiser steps: lr * min(step / warmup, 1) (official 5000; 2500 for CIFAR-10).</summary>
    public int WarmupSteps { get; init; } = 5000;
    /// <summary>
    /// After warm-up, decay the learning rate along a half cosine to 0 at the run's last step (the trainer's MaxSteps); false
    /// (official): constant after warm-up. Not written when false, so recipes saved before it existed compare equal.
    /// </summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingDefault)]
    public bool CosineDecay { get; init; }
    /// <summary>EMA rate (official 0.9999, sized for 300K+ steps).</summary>
    public double EmaRate { get; init; } = 0.9999;
    /// <summary>
    /// EMA warm-up: use min(rate, (1 + n) / (10 + n)) at step n, so short runs are not dominated by the random initial weights
    /// (not in the official code, which trains for 300K+ steps; off by default to match it).
    /// </summary>
    public bool EmaWarmup { get; init; }
    /// <summary>
    /// The warm-up's offset k in min(rate, (1 + n) / (k + n)); null = <see cref="ExponentialMovingAverage.DefaultWarmupOffset"/>
    /// (10). Then 1 - rate is about (k - 1) / n, so the average spans roughly the last n / (k - 1) steps: a smaller k averages
    /// longer (k = 4: about a third of the run so far). Must exceed 1. Not written when null, so recipes saved before it
    /// existed compare equal.
    /// </summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public double? EmaWarmupOffset { get; init; }
    /// <summary>Clip the global gradient norm to this value; null = no clipping (official).</summary>
    public double? GradientClipNorm { get; init; }
    /// <summary>Split each batch into this many micro-batches and accumulate their gradients (same result, less memory).</summary>
    public int GradientAccumulationSteps { get; init; } = 1;
    /// <summary>Probability of replacing a sample's condition by the null class / empty context (0.15 L ImageNet, 0.1 H and MS-COCO).</summary>
    public double ConditionDropProbability { get; init; }
    /// <summary>
    /// Min-SNR-gamma loss weighting: each sample's error weighted by min(SNR, gamma) / SNR (<see cref="Diffusion.NoisePredictionLoss.MinSnrGamma"/>);
    /// null (official) = unweighted. Not written when null, so recipes saved before it existed compare equal.
    /// </summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public double? MinSnrGamma { get; init; }
    /// <summary>The forward process.</summary>
    public NoiseScheduleKind Schedule { get; init; } = NoiseScheduleKind.ContinuousVP;
    /// <summary>Batch size of the official run (informational: the official runs used 8 GPUs).</summary>
    public int BatchSize { get; init; } = 128;

    /// <summary>Throws naming the first invalid setting.</summary>
    public TrainingRecipe Validate()
    {
        void Require(bool ok, string message) { if (!ok) throw new ArgumentException("Invalid training recipe: " + message); }
        Require(LearningRate > 0 && double.IsFinite(LearningRate), $"LearningRate must be positive; got {LearningRate}.");
        Require(WeightDecay >= 0, $"WeightDecay must be >= 0; got {WeightDecay}.");
        Require(Beta1 is >= 0 and < 1 && Beta2 is >= 0 and < 1, $"Betas must lie in [0, 1); got ({Beta1}, {Beta2}).");
        Require(WarmupSteps >= 0, $"WarmupSteps must be >= 0; got {WarmupSteps}.");
        Require(EmaRate is >= 0 and <= 1, $"EmaRate must lie in [0, 1]; got {EmaRate}.");
        Require(EmaWarmupOffset is null || (EmaWarmupOffset > 1 && double.IsFinite(EmaWarmupOffset.Value)), $"EmaWarmupOffset must be a finite number above 1 or null; got {EmaWarmupOffset}.");
        Require(GradientClipNorm is null or > 0, $"GradientClipNorm must be positive; got {GradientClipNorm}.");
        Require(GradientAccumulationSteps >= 1, $"GradientAccumulationSteps must be >= 1; got {GradientAccumulationSteps}.");
        Require(ConditionDropProbability is >= 0 and <= 1, $"ConditionDropProbability must lie in [0, 1]; got {ConditionDropProbability}.");
        Require(MinSnrGamma is null || (MinSnrGamma > 0 && double.IsFinite(MinSnrGamma.Value)), $"MinSnrGamma must be a positive finite number or null; got {MinSnrGamma}.");
        Require(BatchSize >= 1, $"BatchSize must be >= 1; got {BatchSize}.");
        return this;
    }

    /// <summary>The official recipe of a preset (by any name <see cref="UViTPresets.Get"/> accepts).</summary>
    public static TrainingRecipe ForPreset(string presetName) => UViTPresets.Get(presetName).Name switch
    {
        "cifar10_uvit_small" => new() { Beta2 = 0.999, WarmupSteps = 2500, BatchSize = 128 },
        "celeba64_uvit_small" => new() { BatchSize = 128 },
        "imagenet64_uvit_mid" or "imagenet64_uvit_large" => new() { LearningRate = 3e-4, BatchSize = 1024 },
        "imagenet256_uvit_large" or "imagenet512_uvit_large" => new() { BatchSize = 1024, ConditionDropProbability = 0.15 },
        "imagenet256_uvit_huge" or "imagenet512_uvit_huge" => new() { BatchSize = 1024, ConditionDropProbability = 0.1, Schedule = NoiseScheduleKind.DiscreteSD },
        "mscoco_uvit_small" or "mscoco_uvit_small_deep" => new()
        {
            Beta1 = 0.9, Beta2 = 0.9, BatchSize = 256, ConditionDropProbability = 0.1, Schedule = NoiseScheduleKind.DiscreteSD,
        },
        var name => throw new ArgumentException($"No official recipe for preset '{name}'."),
    };
}
