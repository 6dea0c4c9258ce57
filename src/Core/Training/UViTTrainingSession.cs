// One U-ViT training run: network, EMA copy, AdamW, warm-up, the noise-prediction objective and its random stream.
// Follows the official train loop (train.py / train_ldm*.py, github baofff/U-ViT): zero_grad, loss.backward, optional
// clipping, optimizer.step, lr_scheduler.step, ema update. Everything random comes from one CPU generator whose state is
// checkpointed, so a resumed run continues exactly.
using TorchSharp;
using TorchSharp.Modules;
using UViT.MLNet.Core.Diffusion;
using UViT.MLNet.Core.Generation;
using UViT.MLNet.Core.Networks;
using UViT.MLNet.Core.Runtime;
using static TorchSharp.torch;

namespace UViT.MLNet.Core.Training;

/// <summary>Trains a <see cref="UViTNetwork"/> with the official recipe, one optimiser step per <see cref="TrainStep"/>.</summary>
public sealed class UViTTrainingSession : IDisposable
{
    private readonly AdamW _optimizer;
    private readonly NoiseSchedule _schedule;
    private readonly NoisePredictionLoss _loss;
    private readonly ExponentialMovingAverage _ema;
    private readonly Tensor? _emptyContext;

    /// <summary>The network being trained (raw weights).</summary>
    public UViTNetwork Network { get; }
    /// <summary>The EMA of <see cref="Network"/>'s weights (what sampling should use).</summary>
    public UViTNetwork EmaNetwork { get; }
    /// <summary>Optimisation settings.</summary>
    public TrainingRecipe Recipe { get; }
    /// <summary>The label used as "no class" for guidance dropout, if the model is class-conditional with guidance.</summary>
    public long? NullClass { get; }
    /// <summary>Seed the run was started with.</summary>
    public long Seed { get; }
    /// <summary>Optimiser steps taken so far.</summary>
    public long Step { get; private set; }
    /// <summary>The generator behind every random draw (times, noise, dropout); its state is part of a checkpoint.</summary>
    public Generator Random { get; }
    /// <summary>Steps skipped so far because their loss or gradient norm was not finite (they changed no weight).</summary>
    public long SkippedSteps { get; private set; }
    /// <summary>Skipped steps since the last step that was taken.</summary>
    public int ConsecutiveSkippedSteps { get; private set; }
    /// <summary>
    /// How many non-finite steps in a row end the run with a <see cref="TrainingDivergedException"/> (a single bad batch is
    /// skipped; a run that keeps producing NaN has diverged and retrying does not help).
    /// </summary>
    public int MaxConsecutiveSkippedSteps { get; init; } = 5;

    /// <summary>
    /// Threads that compute a step's gradients at once, each on its own slices of the batch with
    /// <c>libtorch threads / Workers</c> libtorch threads of its own (CPU only; default 1: the calling thread does it all with
    /// every libtorch thread). With W workers each batch is split into W x <see cref="TrainingRecipe.GradientAccumulationSteps"/>
    /// micro-batches whose noise is drawn in order before any runs, and the gradients are summed in worker order, so a run is
    /// repeatable for a given W; runs with different W draw their noise per micro-batch and so differ. Small networks train
    /// a little faster this way (the MNIST default: see docs/benchmarks.md); each worker past the first keeps a copy of the weights and
    /// their gradients.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">Less than 1.</exception>
    /// <exception cref="ArgumentException">More than 1 on a GPU.</exception>
    public int Workers
    {
        get => _workerCount;
        init
        {
            if (value < 1) throw new ArgumentOutOfRangeException(nameof(Workers), $"Training needs at least one worker; got {value}.");
            if (value > 1 && Network.parameters().First().device.type != DeviceType.CPU)
                throw new ArgumentException($"Training workers are for CPUs; the network is on {Network.parameters().First().device}. Use 1.", nameof(Workers));
            _workerCount = value;
        }
    }

    /// <summary>
    /// The workers a run on <paramref name="device"/> uses unless told otherwise: 2 on a CPU with at least 2 libtorch threads
    /// (each worker then gets half of them), else 1. Measured on 2 cores (docs/benchmarks.md): the MNIST default trains a
    /// few percent faster, its workers waiting on no OpenMP team.
    /// </summary>
    public static int DefaultWorkers(Device device) => device.type == DeviceType.CPU && get_num_threads() >= 2 ? 2 : 1;

    private readonly int _workerCount = 1;

    /// <summary>Live tensors on each worker thread after the last step (none before the first step with workers).</summary>
    internal IReadOnlyList<long> WorkerLiveTensors => _workers?.LiveTensors ?? [];
    private TrainingWorkers? _workers;

    /// <param name="network">A freshly initialised (or pre-trained) network; the session owns it.</param>
    /// <param name="nullClass">Null label for class models trained with guidance dropout (must be &lt; NumClasses).</param>
    /// <param name="emptyContext">[T, D] context of the empty prompt, for text models trained with guidance dropout.</param>
    public UViTTrainingSession(UViTNetwork network, TrainingRecipe recipe, long seed, long? nullClass = null, Tensor? emptyContext = null)
    {
        Recipe = recipe.Validate();
        Network = network;
        Seed = seed;
        var config = network.Config;
        if (recipe.ConditionDropProbability > 0)
        {
            if (config.Conditioning == UViTConditioning.ClassLabel && (nullClass is null || nullClass < 0 || nullClass >= config.NumClasses))
                throw new ArgumentException($"Guidance dropout on a class model needs a null class in [0, {config.NumClasses - 1}]; got {nullClass?.ToString() ?? "none"}.");
            if (config.Conditioning == UViTConditioning.TextContext && emptyContext is null)
                throw new ArgumentException("Guidance dropout on a text model needs the empty prompt's context.");
            if (config.Conditioning == UViTConditioning.Unconditional)
                throw new ArgumentException("An unconditional model has no condition to drop; set ConditionDropProbability to 0.");
        }
        NullClass = nullClass;
        _emptyContext = emptyContext?.detach().clone();
        var device = network.parameters().First().device;
        EmaNetwork = new UViTNetwork(config, device: device, dtype: network.parameters().First().dtype);
        EmaNetwork.UseFusedAttention = network.UseFusedAttention;
        _ema = new ExponentialMovingAverage(network, EmaNetwork);
        _schedule = recipe.Schedule == NoiseScheduleKind.ContinuousVP ? new ContinuousVPSchedule() : new DiscreteSDSchedule();
        _loss = new NoisePredictionLoss(_schedule, recipe.ConditionDropProbability, nullClass, recipe.MinSnrGamma);
        _optimizer = new KeptScalarOptimizers.AdamW(network.parameters(), lr: recipe.LearningRate, beta1: recipe.Beta1, beta2: recipe.Beta2,
                                         weightDecay: recipe.WeightDecay);
        Random = new Generator(unchecked((ulong)seed));
        Network.train();
    }

    /// <summary>
    /// The run's length in optimiser steps, which <see cref="TrainingRecipe.CosineDecay"/> decays to (the trainer sets it; a
    /// session without it keeps the learning rate constant after warm-up).
    /// </summary>
    public long? TotalSteps { get; init; }

    /// <summary>The learning rate the next step will use.</summary>
    public double NextLearningRate => TotalSteps is long total
        ? LinearWarmup.LearningRate(Recipe.LearningRate, Step, Recipe.WarmupSteps, Recipe.CosineDecay, total)
        : LinearWarmup.LearningRate(Recipe.LearningRate, Step, Recipe.WarmupSteps);

    /// <summary>
    /// One optimiser step on a batch: noise it, drop conditions for guidance, predict the noise, back-propagate
    /// (in <see cref="TrainingRecipe.GradientAccumulationSteps"/> micro-batches), clip, step AdamW, update the EMA.
    /// A step whose loss or gradient norm is not finite is skipped before it reaches the optimiser or the EMA: the weights and
    /// <see cref="Step"/> stay as they were, <see cref="SkippedSteps"/> counts it, and the non-finite loss is returned.
    /// </summary>
    /// <exception cref="TrainingDivergedException"><see cref="MaxConsecutiveSkippedSteps"/> steps in a row were not finite.</exception>
    /// <param name="x0">[B, C, H, W] clean data (pixels in [-1, 1] or scaled latents).</param>
    /// <param name="labels">[B] int64 labels (class models).</param>
    /// <param name="context">[B, T, D] text contexts (text models).</param>
    /// <returns>The batch loss (mean of the micro-batch losses).</returns>
    public float TrainStep(Tensor x0, Tensor? labels = null, Tensor? context = null)
    {
        ThrowIfFinished();
        using var scope = NewDisposeScope();
        foreach (var group in _optimizer.ParamGroups) group.LearningRate = NextLearningRate;
        _optimizer.zero_grad();
        long b = x0.shape[0];
        int parts = (int)Math.Min((long)Recipe.GradientAccumulationSteps * Workers, b);
        double total = Workers == 1 ? BackwardHere(x0, labels, context, parts) : BackwardOnWorkers(x0, labels, context, parts);
        // Clipping measures the norm anyway (and a non-finite norm leaves the gradients to be zeroed below).
        double norm = Recipe.GradientClipNorm is double clip ? nn.utils.clip_grad_norm_(Network.parameters(), clip) : GradientNorm();
        if (!double.IsFinite(total) || !double.IsFinite(norm))
        {
            _optimizer.zero_grad();
            SkippedSteps++;
            if (++ConsecutiveSkippedSteps >= MaxConsecutiveSkippedSteps)
                throw new TrainingDivergedException($"Training diverged: {ConsecutiveSkippedSteps} steps in a row after step {Step} had a non-finite loss ({total}) " +
                                                    $"or gradient norm ({norm}); check the data range (NaN inputs?) and lower the learning rate.");
            return (float)total;
        }
        ConsecutiveSkippedSteps = 0;
        _optimizer.step();
        Step++;
        _ema.Update(ExponentialMovingAverage.RateAt(Step, Recipe.EmaRate, Recipe.EmaWarmup, Recipe.EmaWarmupOffset));
        return (float)total;
    }

    /// <summary>Back-propagates <paramref name="parts"/> micro-batches one after another on this thread; returns the batch loss.</summary>
    private double BackwardHere(Tensor x0, Tensor? labels, Tensor? context, int parts)
    {
        long b = x0.shape[0];
        double total = 0;
        var device = Network.parameters().First().device;
        for (int part = 0; part < parts; part++)
        {
            using var scope = NewDisposeScope();
            long from = b * part / parts, to = b * (part + 1) / parts;
            var x = x0.slice(0, from, to, 1).to(device);                                            // [b, C, H, W]
            var y = labels?.slice(0, from, to, 1).to(device);                                      // [b]
            var c = context?.slice(0, from, to, 1).to(device);                                     // [b, T, D]
            var loss = _loss.Compute(Network, x, y, c, _emptyContext, Random);                     // []
            loss.Times((double)(to - from) / b).backward();
            total += loss.item<float>() * (to - from) / b;
        }
        return total;
    }

    /// <summary>
    /// Draws the noise of <paramref name="parts"/> micro-batches in order here, then back-propagates them on the workers
    /// (<see cref="Workers"/>); returns the batch loss.
    /// </summary>
    private double BackwardOnWorkers(Tensor x0, Tensor? labels, Tensor? context, int parts)
    {
        using var scope = NewDisposeScope();
        long b = x0.shape[0];
        var microBatches = new List<(NoisedBatch, double)>(parts);
        for (int part = 0; part < parts; part++)
        {
            long from = b * part / parts, to = b * (part + 1) / parts;
            var batch = _loss.Noise(x0.slice(0, from, to, 1), labels?.slice(0, from, to, 1), context?.slice(0, from, to, 1), _emptyContext, Random);
            microBatches.Add((batch, (double)(to - from) / b));
        }
        _workers ??= new TrainingWorkers(Network, Workers, Math.Max(1, get_num_threads() / Workers));
        return _workers.Backward(microBatches);
    }

    /// <summary>The global L2 norm of the gradients (what clipping measures); NaN or infinity when any gradient is.</summary>
    private double GradientNorm()
    {
        using var scope = NewDisposeScope();
        var norms = Network.parameters().Select(p => p.grad).OfType<Tensor>().Select(g => g.detach().norm().to(float64)).ToList();   // [] each
        return norms.Count == 0 ? 0 : stack(norms).norm().item<double>();
    }

    /// <summary>
    /// A generator holding copies of the current raw and EMA weights (it owns them; the session keeps training its own),
    /// with this run's schedule and null class.
    /// </summary>
    public UViTGenerator CreateGenerator()
    {
        ThrowIfFinished();
        var config = Network.Config;
        var device = Network.parameters().First().device;
        var raw = new UViTNetwork(config, device: device) { UseFusedAttention = Network.UseFusedAttention };
        var ema = new UViTNetwork(config, device: device) { UseFusedAttention = Network.UseFusedAttention };
        using (no_grad())
        {
            foreach (var (target, source) in new[] { (raw, Network), (ema, EmaNetwork) })
            {
                var destination = target.state_dict();
                foreach (var (key, value) in source.state_dict()) destination[key].copy_(value);
            }
        }
        return new UViTGenerator(raw, ema, Recipe.Schedule, NullClass, _emptyContext);
    }

    /// <summary>
    /// Ends training and hands the session's own raw and EMA networks to a generator, without copying them (a copy would
    /// double the model's memory at the end of a run: 4 GB more for U-ViT-H). The optimiser state is released; afterwards the
    /// session can no longer train or save checkpoints, and disposing it leaves the networks to the generator.
    /// </summary>
    public UViTGenerator FinishIntoGenerator()
    {
        ThrowIfFinished();
        _workers?.Dispose();
        _workers = null;
        _optimizer.zero_grad();
        _optimizer.Dispose();
        foreach (var parameter in Network.parameters()) parameter.grad?.Dispose();
        _finished = true;
        return new UViTGenerator(Network, EmaNetwork, Recipe.Schedule, NullClass, _emptyContext);
    }

    private bool _finished;

    private void ThrowIfFinished()
    {
        if (_finished) throw new InvalidOperationException("This training session has handed its networks to a generator (FinishIntoGenerator); it can no longer train.");
    }

    /// <summary>
    /// Writes network, EMA, optimiser state, step, RNG state and <paramref name="metadata"/> to one file, atomically, with a
    /// SHA-256 checksum of every part. Weights that are not finite are refused, so a diverged run never replaces a good file.
    /// </summary>
    /// <param name="previousPath">Where the checkpoint being replaced is kept (null: it is dropped).</param>
    /// <exception cref="TrainingDivergedException">A weight is NaN or infinite; nothing was written.</exception>
    public void SaveCheckpoint(string path, IReadOnlyDictionary<string, string>? metadata = null, string? previousPath = null)
    {
        ThrowIfFinished();
        TrainingCheckpoint.Save(path, this, _optimizer, metadata ?? new Dictionary<string, string>(), previousPath);
    }

    /// <summary>
    /// Restores a checkpoint written by <see cref="SaveCheckpoint"/> into this session (same config required). Every part is
    /// checked (checksums, keys, shapes, finite weights) before anything changes, so a failed load leaves the session as it was.
    /// </summary>
    /// <returns>The metadata stored with it.</returns>
    /// <exception cref="InvalidDataException">The file is truncated, corrupt or from another network.</exception>
    public IReadOnlyDictionary<string, string> LoadCheckpoint(string path)
    {
        ThrowIfFinished();
        var (step, metadata) = TrainingCheckpoint.Load(path, this, _optimizer);
        Step = step;
        return metadata;
    }

    public void Dispose()
    {
        _workers?.Dispose();
        (_schedule as IDisposable)?.Dispose();
        _emptyContext?.Dispose();
        Random.Dispose();
        if (_finished) return;   // the optimiser is gone and the networks belong to the generator
        _optimizer.Dispose();
        EmaNetwork.Dispose();
        Network.Dispose();
    }
}
