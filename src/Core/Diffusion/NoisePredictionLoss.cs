// The U-ViT training objective (official sde.py `LSimple` and train_ldm_discrete.py `LSimple`, github baofff/U-ViT):
// L = mean over the batch of (mean over C, H, W of (eps - eps_hat(x_t, t, c))^2), with classifier-free-guidance training
// replacing each sample's condition by the null class / empty-prompt context with probability p_uncond. Optionally each
// sample's term is weighted by min(SNR, gamma) / SNR (Min-SNR-gamma, Hang et al. 2023), a short-run setting, not official.
using TorchSharp;
using UViT.MLNet.Core.Networks;
using UViT.MLNet.Core.Runtime;
using static TorchSharp.torch;

namespace UViT.MLNet.Core.Diffusion;

/// <summary>A conditioning-aware noise predictor for training: (x_t, network time, labels?, context?) -> eps_hat.</summary>
public delegate Tensor TrainingNoisePredictor(Tensor x, Tensor networkTime, Tensor? labels, Tensor? context);

/// <summary>The noise-prediction (epsilon) loss with optional label / context dropout for guidance.</summary>
public sealed class NoisePredictionLoss
{
    private readonly NoiseSchedule _schedule;

    /// <summary>Probability of replacing a sample's condition by the unconditional one (official 0.15 or 0.1; 0 = none).</summary>
    public double UnconditionalProbability { get; }

    /// <summary>The null class that replaces dropped labels (1000 for the ImageNet 256/512 models).</summary>
    public long? NullClass { get; }

    /// <summary>
    /// Min-SNR-gamma loss weighting (Hang et al., "Efficient Diffusion Training via Min-SNR Weighting Strategy", ICCV 2023):
    /// each sample's squared error is weighted by min(SNR, gamma) / SNR with SNR = alpha^2 / sigma^2, which lowers the weight
    /// of the nearly clean noise levels whose gradients conflict with the rest; null (official): every sample weighs 1.
    /// </summary>
    public double? MinSnrGamma { get; }

    /// <summary>Creates the loss.</summary>
    /// <param name="schedule">Continuous VP or discrete SD: decides how noise levels and network times are drawn.</param>
    /// <param name="unconditionalProbability">p_uncond for classifier-free guidance training.</param>
    /// <param name="nullClass">Required with p_uncond &gt; 0 for class-conditional models.</param>
    /// <param name="minSnrGamma">See <see cref="MinSnrGamma"/>.</param>
    public NoisePredictionLoss(NoiseSchedule schedule, double unconditionalProbability = 0, long? nullClass = null, double? minSnrGamma = null)
    {
        if (unconditionalProbability is < 0 or > 1)
            throw new ArgumentOutOfRangeException(nameof(unconditionalProbability), $"p_uncond must be in [0, 1]; got {unconditionalProbability}.");
        if (minSnrGamma is double gamma && !(gamma > 0 && double.IsFinite(gamma)))
            throw new ArgumentOutOfRangeException(nameof(minSnrGamma), $"The Min-SNR gamma must be a positive finite number; got {gamma}.");
        MinSnrGamma = minSnrGamma;
        _schedule = schedule;
        UnconditionalProbability = unconditionalProbability;
        NullClass = nullClass;
    }

    /// <summary>The loss of <paramref name="network"/> on clean samples <paramref name="x0"/>.</summary>
    /// <param name="x0">[B, C, H, W] clean images or latents.</param>
    /// <param name="labels">[B] int64 labels (class-conditional models).</param>
    /// <param name="context">[B, T, D] text contexts (text models).</param>
    /// <param name="emptyContext">[1, T, D] or [B, T, D] context of "" (needed when dropping contexts).</param>
    /// <returns>[] scalar loss (keeps the autograd graph).</returns>
    public Tensor Compute(UViTNetwork network, Tensor x0, Tensor? labels = null, Tensor? context = null, Tensor? emptyContext = null, Generator? generator = null) =>
        Compute((x, t, y, c) => network.forward(x, t, y, c), x0, labels, context, emptyContext, generator);

    /// <summary>The loss of any conditioning-aware noise predictor (see the other overload).</summary>
    /// <returns>[] scalar loss.</returns>
    public Tensor Compute(TrainingNoisePredictor model, Tensor x0, Tensor? labels = null, Tensor? context = null, Tensor? emptyContext = null, Generator? generator = null)
    {
        using var scope = NewDisposeScope();
        var batch = Noise(x0, labels, context, emptyContext, generator);
        return Loss(model, batch).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Every random draw of the loss for one batch, made now: noise levels, noise, noisy inputs, dropped conditions and the
    /// Min-SNR weights. <see cref="Loss"/> then needs no generator, so several batches drawn in a fixed order can be
    /// evaluated at once on different threads and still give the same numbers on every run.
    /// </summary>
    /// <returns>The batch's tensors, in the caller's dispose scope.</returns>
    public NoisedBatch Noise(Tensor x0, Tensor? labels = null, Tensor? context = null, Tensor? emptyContext = null, Generator? generator = null)
    {
        using var scope = NewDisposeScope();
        long b = x0.shape[0];
        using var level = TrainingNoiseLevel.Draw(_schedule, b, x0.device, generator);
        var eps = randn(x0.shape, dtype: x0.dtype, generator: generator).to(x0.device);            // [B, C, H, W]
        var xt = (Expand(level.Alpha, x0) * x0).Plus(Expand(level.Sigma, x0) * eps);             // [B, C, H, W]
        var (y, c) = DropConditions(labels, context, emptyContext, b, x0.device, generator);
        Tensor? weights = null;
        if (MinSnrGamma is double gamma)
        {
            var snr = level.Alpha.Squared() / level.Sigma.Squared();                               // [B]
            weights = snr.AtMost(gamma) / snr;                                                      // [B]
        }
        var networkTime = level.NetworkTime.alias();                                               // [B] (the level is disposed here)
        var batch = new NoisedBatch(xt, networkTime, y, c, eps, weights);
        scope.MoveToOuter(batch.Tensors());
        return batch;
    }

    /// <summary>The loss of <paramref name="model"/> on a batch drawn by <see cref="Noise"/> (no random draws).</summary>
    /// <returns>[] scalar loss (keeps the autograd graph).</returns>
    public static Tensor Loss(TrainingNoisePredictor model, NoisedBatch batch)
    {
        using var scope = NewDisposeScope();
        var predicted = model(batch.NoisyInput, batch.NetworkTime, batch.Labels, batch.Context);  // [B, C, H, W]
        var perSample = (batch.Noise - predicted).Squared().flatten(1).mean([1]);                  // [B] mean over C, H, W
        if (batch.MinSnrWeights is { } weights) perSample = perSample * weights.to(perSample.dtype);  // [B]
        return perSample.mean().MoveToOuterDisposeScope();                                         // []
    }

    /// <summary>Replaces each sample's label / context by the unconditional one with probability p_uncond.</summary>
    private (Tensor? Labels, Tensor? Context) DropConditions(Tensor? labels, Tensor? context, Tensor? emptyContext, long b, Device device, Generator? generator)
    {
        if (UnconditionalProbability == 0 || (labels is null && context is null)) return (labels?.to(device), context?.to(device));
        using var probability = UnconditionalProbability.ToScalar();
        var drop = rand(b, generator: generator).lt(probability).to(device);                      // [B] bool
        Tensor? y = null, c = null;
        if (labels is not null)
        {
            if (NullClass is null) throw new InvalidOperationException("Label dropout needs the null class (NoisePredictionLoss nullClass).");
            using var nullClass = NullClass.Value.ToScalar();
            y = where(drop, full_like(labels, nullClass).to(device), labels.to(device));             // [B]
        }
        if (context is not null)
        {
            if (emptyContext is null) throw new ArgumentException("Context dropout needs the empty prompt's context (emptyContext).");
            var empty = emptyContext.to(device).expand(context.shape);                              // [B, T, D]
            c = where(drop.reshape(b, 1, 1), empty, context.to(device));                            // [B, T, D]
        }
        return (y, c);
    }

    private static Tensor Expand(Tensor v, Tensor x) => v.to(x.dtype).reshape([v.shape[0], .. Enumerable.Repeat(1L, (int)x.dim() - 1)]);
}
