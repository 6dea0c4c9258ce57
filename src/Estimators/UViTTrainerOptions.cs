// Options of the U-ViT trainer. Defaults: a small network sized to the images, the short-run recipe (or the official
// recipe of a named preset), EMA weights and DPM-Solver++ for the returned generator.
using UViT.MLNet.Core.Generation;
using UViT.MLNet.Core.Networks;
using UViT.MLNet.Core.Training;
using UViT.MLNet.Transforms.Generation;

namespace UViT.MLNet.Estimators;

/// <summary>One progress report of a training run.</summary>
/// <param name="Step">Optimiser steps done.</param>
/// <param name="TotalSteps">Steps the run will take.</param>
/// <param name="Loss">Mean loss over the steps since the previous report.</param>
/// <param name="LearningRate">Learning rate of the last step.</param>
/// <param name="Elapsed">Wall time since Fit started.</param>
public sealed record TrainingProgress(long Step, long TotalSteps, float Loss, double LearningRate, TimeSpan Elapsed);

/// <summary>Where <see cref="UViTTrainer"/> keeps the training images and text contexts while it trains.</summary>
public enum TrainingDataStore
{
    /// <summary>In memory while they fit in <see cref="UViTTrainerOptions.InMemoryDataLimitBytes"/>, else in a store file on disk.</summary>
    Auto,
    /// <summary>Always in memory (the data must fit in RAM, twice over while it is read).</summary>
    Memory,
    /// <summary>Always in a store file on disk, read batch by batch.</summary>
    Disk,
}

/// <summary>Settings of <see cref="UViTTrainer"/>.</summary>
public sealed class UViTTrainerOptions
{
    /// <summary>The image column: a Vector&lt;Single, C, H, W&gt; with known dimensions (e.g. from ExtractPixels), H = W.</summary>
    public string ImageColumnName { get; set; } = UViTColumns.Image;
    /// <summary>Range of the image column's values (ExtractPixels gives 0-255 by default). Symmetric values pass unchanged and are
    /// not range-checked, so a latent column (e.g. from EncodeLatents) can be used.</summary>
    public PixelRange InputRange { get; set; } = PixelRange.Bytes;
    /// <summary>
    /// A moments cache file (built with <see cref="MomentsCacheBuilder"/>) to train a latent model from instead of the input's
    /// columns: every step samples fresh latents from the stored autoencoder moments (and picks the image or its stored
    /// horizontal flip at random), as the official latent U-ViT training does; labels and class names come from the cache.
    /// The file is read batch by batch, so it need not fit in memory. Null (default): train on <see cref="ImageColumnName"/>.
    /// </summary>
    public string? MomentsCachePath { get; set; }
    /// <summary>
    /// Where the images and text contexts are kept while training. Auto (default): in memory up to
    /// <see cref="InMemoryDataLimitBytes"/>; past it, Fit moves the rows read so far into a training store file and streams the
    /// rest there, then reads it batch by batch (same batches, same model, bit for bit). A store is written once per Fit from
    /// one pass over the input and deleted when Fit returns.
    /// </summary>
    public TrainingDataStore TrainingDataStore { get; set; } = TrainingDataStore.Auto;
    /// <summary>The most bytes of training data (float32 images plus text contexts) Auto keeps in memory; default 2 GiB. The
    /// in-memory path's peak is a few times the data (measured: about 3.5x for 586 MB of images), so this budgets the data,
    /// not the process.</summary>
    public long InMemoryDataLimitBytes { get; set; } = 2L << 30;
    /// <summary>
    /// Folder of the training store files (training-images.store, training-contexts.store; deleted when Fit returns). Null
    /// (default): <see cref="CheckpointDirectory"/> when set, else a new folder under the system temp folder.
    /// </summary>
    public string? TrainingStoreDirectory { get; set; }
    /// <summary>A key-typed label column; when the input has no column of this name (and no context column) the model is unconditional.</summary>
    public string LabelColumnName { get; set; } = UViTColumns.Label;
    /// <summary>
    /// A text-context column (e.g. from <c>mlContext.Transforms.EncodeText</c>): Vector&lt;Single, T, D&gt;, or K contexts per row
    /// (several captions; each step draws one per row). When the input has it, the model is text-conditioned (U-ViT's
    /// text-to-image variant, tokens <c>[time, T contexts, patches]</c>) and the input must not also have a label column.
    /// </summary>
    public string? ContextColumnName { get; set; } = UViTColumns.Context;
    /// <summary>
    /// [T, D] context of the empty prompt, the unconditional input that guidance dropout substitutes. Null: taken from the
    /// context column's annotation, which EncodeText writes; set it when the contexts come from elsewhere (e.g. a saved IDataView).
    /// </summary>
    public float[,]? EmptyContext { get; set; }

    /// <summary>An official preset ("U-ViT-S/2 CIFAR-10", "cifar10_uvit_small", ...): network and recipe. Its image size,
    /// channels and class count must match the data (a label key over 1000 values for a 1001-class preset).</summary>
    public string? Preset { get; set; }
    /// <summary>An explicit network (overrides <see cref="Preset"/>'s). NumClasses must be K (no guidance) or K + 1 (null class K).</summary>
    public UViTConfig? Network { get; set; }
    /// <summary>Optimisation settings (default: the preset's official recipe, or <see cref="ShortRunRecipe"/>).</summary>
    public TrainingRecipe? Recipe { get; set; }

    /// <summary>Images per optimiser step.</summary>
    public int BatchSize { get; set; } = 64;
    /// <summary>Optimiser steps to run (takes precedence over <see cref="Epochs"/>).</summary>
    public int? MaxSteps { get; set; }
    /// <summary>Passes over the data (used when <see cref="MaxSteps"/> is null); default 1.</summary>
    public int? Epochs { get; set; }
    /// <summary>Seed of initialisation, data order, noise and dropout: the same seed and data give the same model. Null (default):
    /// the MLContext's seed (<c>new MLContext(seed: 1)</c>), or 0 when it has none.</summary>
    public long? Seed { get; set; }
    /// <summary>"cpu", "cuda" or "cuda:N"; null (default): the MLContext's choice, as ML.NET's TorchSharp trainers make it
    /// (GpuDeviceId null: the CPU; set: that CUDA device, or the CPU when it is missing and FallbackToCpu is set).</summary>
    public string? Device { get; set; }
    /// <summary>The attention implementation: by default the fused kernel on GPUs and for long sequences, the official plain
    /// math for short sequences on a CPU (where it is faster); both compute the same function.</summary>
    public AttentionKernel Attention { get; set; } = AttentionKernel.Auto;

    /// <summary>Where to keep the resumable checkpoint (latest.ckpt, written atomically, and previous.ckpt, the one it replaced); null = no checkpoints.</summary>
    public string? CheckpointDirectory { get; set; }
    /// <summary>Optimiser steps between checkpoints.</summary>
    public int CheckpointInterval { get; set; } = 500;
    /// <summary>Continue from CheckpointDirectory/latest.ckpt when it exists (or previous.ckpt, the one it replaced, when it is damaged).</summary>
    public bool Resume { get; set; } = true;
    /// <summary>Resume even when the checkpoint was written with another data count, batch size or recipe (refused by default).</summary>
    public bool ResumeDespiteMismatch { get; set; }
    /// <summary>
    /// Threads that compute each step's gradients at once on slices of the batch, with their own share of the libtorch
    /// threads (CPU only; see <see cref="UViTTrainingSession.Workers"/>). Null (default): 2 on a CPU with at least 2 libtorch
    /// threads, else 1. A run is repeatable for a given count; another count draws its noise differently.
    /// </summary>
    public int? TrainingWorkers { get; set; }
    /// <summary>Steps in a row with a non-finite loss or gradient (each skipped) after which Fit stops with a TrainingDivergedException.</summary>
    public int MaxConsecutiveSkippedSteps { get; set; } = 5;

    /// <summary>Sampling settings of the returned generation transformer.</summary>
    public SamplerSettings Sampling { get; set; } = new();
    /// <summary>Rows per sampler run in the returned transformer.</summary>
    public int GenerationBatchSize { get; set; } = 16;

    /// <summary>Receives a report every <see cref="ReportInterval"/> steps (and at the end).</summary>
    public IProgress<TrainingProgress>? Progress { get; set; }
    /// <summary>Steps between progress reports and log lines.</summary>
    public int ReportInterval { get; set; } = 50;
    /// <summary>Stops training at the next step; Fit then returns the model as it is (EMA weights) instead of throwing.</summary>
    public CancellationToken CancellationToken { get; set; }

    /// <summary>The network used when neither <see cref="Network"/> nor <see cref="Preset"/> is set.</summary>
    public static UViTConfig DefaultNetwork(int channels, int size, int numClasses) => NetworkChoice.DefaultFor(channels, size, numClasses);

    /// <summary>
    /// A recipe for runs of minutes rather than days (the official warm-up of 5000 steps and EMA rate 0.9999 suit 300K-step
    /// runs): lr 1e-3 with AdamW betas (0.9, 0.99), 100 warm-up steps, EMA 0.999 with warm-up offset 20 (the average spans about
    /// the last 5% of the steps; measured on MNIST at 3,000 steps over two seeds: 88.4% and 86.0% of unguided digits read as the
    /// requested class against 87.8% and 83.2% with the usual offset 10, and 75.4% with 4), guidance dropout 0.1, gradient
    /// clipping at 1, the discrete Stable Diffusion schedule, which spends more of a short run on the low and middle noise
    /// levels than the continuous VP one (measured on MNIST at 4,000 steps: 84% vs 27% of digits read as the requested class),
    /// and Min-SNR weighting with gamma 1 (measured on MNIST at 3,000 steps: 99.2% against 45.6% unweighted; docs/short-runs.md).
    /// </summary>
    public static TrainingRecipe ShortRunRecipe => new()
    {
        LearningRate = 1e-3, Beta1 = 0.9, Beta2 = 0.99, WeightDecay = 0.03, WarmupSteps = 100, EmaRate = 0.999, EmaWarmup = true,
        EmaWarmupOffset = 20, ConditionDropProbability = 0.1, GradientClipNorm = 1.0, BatchSize = 64, Schedule = NoiseScheduleKind.DiscreteSD, MinSnrGamma = 1,
    };
}
