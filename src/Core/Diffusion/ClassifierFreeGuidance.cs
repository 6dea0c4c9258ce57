// Classifier-free guidance (Ho & Salimans 2022) as the official U-ViT code applies it (eval_ldm*.py, sample_t2i_discrete.py
// `cfg_nnet`, github baofff/U-ViT): eps = eps_c + s (eps_c - eps_u), where s is an EXTRA weight (the paper's scale).
// Deviation: both branches run in one batched forward (the official code makes two calls); they agree to ~1e-7.
using TorchSharp;
using UViT.MLNet.Core.Networks;
using UViT.MLNet.Core.Runtime;
using static TorchSharp.torch;

namespace UViT.MLNet.Core.Diffusion;

/// <summary>
/// How strongly to guide. Two conventions exist and differ by one: U-ViT's paper and code use the extra weight s
/// (eps = eps_c + s (eps_c - eps_u); official 0.4 / 0.7 / 1.0), DiT and diffusers use the guidance scale g = 1 + s
/// (eps = eps_u + g (eps_c - eps_u)). Construct with the factory named after the convention you have.
/// </summary>
public readonly record struct GuidanceWeight
{
    private GuidanceWeight(double extraWeight) => ExtraWeight = extraWeight;

    /// <summary>s, the U-ViT paper's weight: 0 means plain conditional sampling.</summary>
    public double ExtraWeight { get; }

    /// <summary>g = 1 + s, the DiT / diffusers "guidance scale": 1 means plain conditional sampling.</summary>
    public double DiffusersGuidanceScale => 1 + ExtraWeight;

    /// <summary>From the U-ViT paper's extra weight s (e.g. 0.4 for ImageNet 256).</summary>
    public static GuidanceWeight FromExtraWeight(double s) =>
        double.IsFinite(s) ? new GuidanceWeight(s) : throw new ArgumentException($"Guidance weight must be finite; got {s}.", nameof(s));

    /// <summary>From a DiT / diffusers guidance scale g (e.g. 1.4, which equals the paper's s = 0.4).</summary>
    public static GuidanceWeight FromDiffusersGuidanceScale(double g) => FromExtraWeight(g - 1);

    /// <summary>No guidance.</summary>
    public static GuidanceWeight None => new(0);
}

/// <summary>Builds guided noise predictors.</summary>
public static class ClassifierFreeGuidance
{
    /// <summary>eps_c + s (eps_c - eps_u), in the official operation order.</summary>
    /// <param name="conditional">[B, C, H, W]</param>
    /// <param name="unconditional">[B, C, H, W]</param>
    /// <returns>[B, C, H, W]</returns>
    public static Tensor Combine(Tensor conditional, Tensor unconditional, GuidanceWeight weight)
    {
        using var difference = conditional - unconditional;                // [B, C, H, W]
        using var push = difference.Times(weight.ExtraWeight);            // [B, C, H, W]
        return conditional.Plus(push);                                       // [B, C, H, W]
    }

    /// <summary>
    /// Wraps a conditional predictor: one forward on the batch [x; x] with conditions [condition; nullCondition], split,
    /// combined. With weight 0 only the conditional half runs. The predictor uses the two tensors when called; keep them alive.
    /// </summary>
    /// <param name="model">The conditional network.</param>
    /// <param name="condition">[B, ...] the wanted labels or contexts.</param>
    /// <param name="nullCondition">[B, ...] the null labels or empty-prompt contexts (same shape as <paramref name="condition"/>).</param>
    public static NoisePredictor Guide(ConditionalNoisePredictor model, Tensor condition, Tensor nullCondition, GuidanceWeight weight)
    {
        RequireSameShape(condition, nullCondition);
        return (x, time) => GuidedForward(model, x, time, condition, nullCondition, weight);
    }

    /// <summary>Guidance for a class-conditional U-ViT: the unconditional branch uses <paramref name="nullClass"/>.</summary>
    /// <param name="labels">[B] int64 class labels (kept alive by the caller while the predictor is used).</param>
    /// <param name="nullClass">The label trained as "no class" (1000 for the ImageNet 256/512 models).</param>
    public static NoisePredictor ForClassLabels(UViTNetwork network, Tensor labels, long nullClass, GuidanceWeight weight)
    {
        if (nullClass < 0 || nullClass >= network.Config.NumClasses)
            throw new ArgumentOutOfRangeException(nameof(nullClass), $"The null class {nullClass} is not a label of this network (0..{network.Config.NumClasses - 1}).");
        ConditionalNoisePredictor model = (x, time, y) => network.forward(x, time, labels: y);
        return (x, time) =>
        {
            using var nullValue = nullClass.ToScalar();
            using var nullLabels = full_like(labels, nullValue);                    // [B]
            return GuidedForward(model, x, time, labels, nullLabels, weight);       // [B, C, H, W]
        };
    }

    /// <summary>Guidance for a text-conditioned U-ViT: the unconditional branch uses the empty prompt's context.</summary>
    /// <param name="context">[B, T, D] text contexts (kept alive by the caller while the predictor is used).</param>
    /// <param name="emptyContext">[B, T, D] or [1, T, D] context of the empty prompt "".</param>
    public static NoisePredictor ForTextContext(UViTNetwork network, Tensor context, Tensor emptyContext, GuidanceWeight weight)
    {
        ConditionalNoisePredictor model = (x, time, c) => network.forward(x, time, context: c);
        return (x, time) =>
        {
            using var empty = emptyContext.expand(context.shape);                    // [B, T, D]
            return GuidedForward(model, x, time, context, empty, weight);           // [B, C, H, W]
        };
    }

    private static Tensor GuidedForward(ConditionalNoisePredictor model, Tensor x, Tensor time, Tensor condition, Tensor nullCondition, GuidanceWeight weight)
    {
        RequireSameShape(condition, nullCondition);
        using var scope = NewDisposeScope();
        if (weight.ExtraWeight == 0) return model(x, time, condition.to(x.device)).MoveToOuterDisposeScope(); // [B, C, H, W]
        long b = x.shape[0];
        var both = cat([x, x], dim: 0);                                                   // [2B, C, H, W]
        var times = cat([time, time], dim: 0);                                            // [2B]
        var conditions = cat([condition.to(x.device), nullCondition.to(x.device)], dim: 0); // [2B, ...]
        var eps = model(both, times, conditions);                                         // [2B, C, H, W]
        var conditional = eps[..(int)b];                                                  // [B, C, H, W]
        var unconditional = eps[(int)b..];                                                // [B, C, H, W]
        return Combine(conditional, unconditional, weight).MoveToOuterDisposeScope();     // [B, C, H, W]
    }

    private static void RequireSameShape(Tensor condition, Tensor nullCondition)
    {
        if (!condition.shape.SequenceEqual(nullCondition.shape))
            throw new ArgumentException($"condition [{string.Join(", ", condition.shape)}] and nullCondition [{string.Join(", ", nullCondition.shape)}] must have the same shape.");
    }
}
