// The U-ViT trainer as an ML.NET estimator: Fit reads images (and labels or text contexts; in memory, or past a budget
// into a training store on disk), trains with the official objective and
// recipe (src/Core/Training), checkpoints and resumes, and returns the generation transformer.
using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using Microsoft.ML.Transforms.Image;
using UViT.MLNet.Core.Generation;
using UViT.MLNet.Core.Networks;
using UViT.MLNet.Core.Runtime;
using UViT.MLNet.Core.Training;
using UViT.MLNet.Transforms.Generation;
using UViT.MLNet.Transforms.Persistence;
using static TorchSharp.torch;

namespace UViT.MLNet.Estimators;

/// <summary>Trains a U-ViT on an image column (and optional key-typed label column); Fit returns a <see cref="UViTGenerationTransformer"/>.</summary>
public sealed class UViTTrainer : IEstimator<UViTGenerationTransformer>
{
    private const string CheckpointFile = "latest.ckpt";
    /// <summary>The checkpoint <see cref="CheckpointFile"/> replaced: the fallback when the latest one cannot be read.</summary>
    private const string PreviousCheckpointFile = "previous.ckpt";
    private readonly IHostEnvironment _environment;
    private readonly UViTTrainerOptions _options;

    public UViTTrainer(IHostEnvironment environment, UViTTrainerOptions options)
    {
        _environment = environment ?? throw new ArgumentNullException(nameof(environment));
        _options = options ?? throw new ArgumentNullException(nameof(options));
        if (options.BatchSize < 1) throw new ArgumentOutOfRangeException(nameof(options), $"BatchSize must be at least 1; got {options.BatchSize}.");
        if (options.MaxSteps is < 1) throw new ArgumentOutOfRangeException(nameof(options), $"MaxSteps must be at least 1; got {options.MaxSteps}.");
        if (options.Epochs is < 1) throw new ArgumentOutOfRangeException(nameof(options), $"Epochs must be at least 1; got {options.Epochs}.");
        if (options.CheckpointInterval < 1) throw new ArgumentOutOfRangeException(nameof(options), $"CheckpointInterval must be at least 1; got {options.CheckpointInterval}.");
        if (options.GenerationBatchSize < 1) throw new ArgumentOutOfRangeException(nameof(options), $"GenerationBatchSize must be at least 1; got {options.GenerationBatchSize}.");
        if (options.ReportInterval < 1) throw new ArgumentOutOfRangeException(nameof(options), $"ReportInterval must be at least 1; got {options.ReportInterval}.");
        if (options.MaxConsecutiveSkippedSteps < 1) throw new ArgumentOutOfRangeException(nameof(options), $"MaxConsecutiveSkippedSteps must be at least 1; got {options.MaxConsecutiveSkippedSteps}.");
        ArgumentNullException.ThrowIfNull(options.Sampling);
        if (options.Recipe is { } recipe) options.Sampling.Validate(recipe.Validate().Schedule);
        UViTComponents.Register(environment);
    }

    /// <summary>The input needs the image column (unless training from a moments cache); adds the generation outputs (the label
    /// and seed columns are read at generation time).</summary>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        var columns = inputSchema.ToDictionary(c => c.Name);
        columns[UViTColumns.GeneratedPixels] = MLNetInternals.SchemaColumn(UViTColumns.GeneratedPixels, SchemaShape.Column.VectorKind.Vector, NumberDataViewType.Single, false);
        if (KnownChannels() is null or 1 or 3)   // an MLImage only for grey or RGB models (not, e.g., 4-channel latents)
            columns[UViTColumns.GeneratedImage] = MLNetInternals.SchemaColumn(UViTColumns.GeneratedImage, SchemaShape.Column.VectorKind.Scalar, new ImageDataViewType(), false);
        if (_options.MomentsCachePath is not null) return new SchemaShape(columns.Values);
        var image = inputSchema.FirstOrDefault(c => c.Name == _options.ImageColumnName);
        if (image.Name is null)
            throw new ArgumentOutOfRangeException(nameof(inputSchema), $"Image column '{_options.ImageColumnName}' not found.");
        if (image.Kind != SchemaShape.Column.VectorKind.Vector || image.ItemType != NumberDataViewType.Single)
            throw new ArgumentOutOfRangeException(nameof(inputSchema), $"Image column '{_options.ImageColumnName}' must be a known-size vector of Single; found {image.ItemType} ({image.Kind}).");
        var label = inputSchema.FirstOrDefault(c => c.Name == _options.LabelColumnName);
        if (label.Name is not null && !label.IsKey)
            throw new ArgumentOutOfRangeException(nameof(inputSchema), $"Label column '{_options.LabelColumnName}' must be a key type; found {label.ItemType}.");
        var context = inputSchema.FirstOrDefault(c => c.Name == _options.ContextColumnName);
        if (context.Name is not null && (context.Kind == SchemaShape.Column.VectorKind.Scalar || context.ItemType != NumberDataViewType.Single))
            throw new ArgumentOutOfRangeException(nameof(inputSchema), $"Context column '{_options.ContextColumnName}' must be a vector of Single (e.g. from EncodeText); found {context.Kind} of {context.ItemType}.");
        return new SchemaShape(columns.Values);
    }

    /// <summary>
    /// The channels of the images the model will make, where the options tell before the data is seen: 4 for a moments cache
    /// (latents), else the explicit network's or the preset's; null when only the data will tell.
    /// </summary>
    private int? KnownChannels() =>
        _options.MomentsCachePath is not null ? 4 : _options.Network?.InChannels ?? UViTPresets.All.FirstOrDefault(p => string.Equals(p.Name, _options.Preset, StringComparison.OrdinalIgnoreCase))?.Config.InChannels;

    /// <summary>Trains and returns the generator. A cancelled run returns the model as it is (EMA weights) rather than throwing.</summary>
    public UViTGenerationTransformer Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var host = _environment.Register(nameof(UViTTrainer));
        using var channel = host.Start("Training");
        var device = TorchRuntime.ParseDevice(ContextSettings.Device(_environment, _options.Device));
        long seed = _options.Seed ?? ContextSettings.Seed(_environment) ?? 0;
        var clock = Stopwatch.StartNew();

        using var storage = new TrainingStorage(_options);                                  // disposed last: deletes the store files
        using var contexts = TrainingContexts.Read(input, _options, storage);
        if (contexts is not null && input.Schema.GetColumnOrNull(_options.LabelColumnName) is not null && _options.MomentsCachePath is null)
            throw new ArgumentException($"The input has both a label column '{_options.LabelColumnName}' and a context column '{_options.ContextColumnName}'; a U-ViT is " +
                                        "conditioned on one of them. Drop one (mlContext.Transforms.DropColumns) or point its option at another name.");
        using ITrainingBatches data = _options.MomentsCachePath is { } cache ? new CachedTrainingData(cache) : TrainingData.Read(input, _options, storage, readLabels: contexts is null);
        if (contexts is not null && contexts.Count != data.Count)
            throw new ArgumentException($"Context column '{_options.ContextColumnName}' has {contexts.Count} rows but the training images number {data.Count}" +
                                        (_options.MomentsCachePath is null ? "." : $" (moments cache '{_options.MomentsCachePath}'): build the cache from the same rows."));
        if (contexts is not null && data.ClassCount > 0)
            throw new ArgumentException($"Moments cache '{_options.MomentsCachePath}' holds labels, but the input has a context column '{_options.ContextColumnName}'; a U-ViT is conditioned on one of them.");
        var (config, recipe, nullClass) = NetworkChoice.Resolve(_options, data.Channels, data.Size, data.ClassCount,
                                                                contexts?.Tokens ?? 0, contexts?.Width ?? 0, contexts?.EmptyContext is not null);
        _options.Sampling.Validate(recipe.Schedule);                                    // refused now, not when the run is over
        var emptyContext = recipe.ConditionDropProbability > 0 ? contexts?.EmptyContext : null;   // what the generator will get
        UViTGenerator.ThrowIfGuidanceUnavailable(config.Conditioning, nullClass, emptyContext is not null, _options.Sampling.GuidanceScale);
        var network = new UViTNetwork(config, device: device, seed: seed) { UseFusedAttention = AttentionKernels.UseFused(_options.Attention, config, device) };
        long batch = Math.Min(_options.BatchSize, data.Count);
        long stepsPerEpoch = Math.Max(1, data.Count / batch);
        long totalSteps = _options.MaxSteps ?? (_options.Epochs ?? 1) * stepsPerEpoch;
        using var session = new UViTTrainingSession(network, recipe, seed, nullClass, emptyContext)
        {
            MaxConsecutiveSkippedSteps = _options.MaxConsecutiveSkippedSteps,
            TotalSteps = totalSteps,
            Workers = _options.TrainingWorkers ?? UViTTrainingSession.DefaultWorkers(device),
        };
        string condition = contexts is not null ? $"{contexts.CaptionCount} text contexts [{contexts.Tokens}, {contexts.Width}]" : $"{data.ClassCount} classes";
        channel.Info(MessageSensitivity.None, $"U-ViT: {data.Count} images {data.Channels}x{data.Size}x{data.Size}, {condition}; " +
                                             $"network D {config.EmbedDim}, depth {config.Depth}, patch {config.PatchSize}, {network.ParameterCount:N0} parameters; " +
                                             $"{(network.UseFusedAttention ? "fused" : "plain")} attention, {recipe.Schedule}, lr {recipe.LearningRate}, batch {_options.BatchSize}, device {device}, {TorchSharp.torch.get_num_threads()} threads, {session.Workers} training worker{(session.Workers == 1 ? "" : "s")}; " +
                                             $"data {(data is StoredTrainingData || contexts is StoredTrainingContexts ? "in a training store on disk" : "in memory")}.");

        string? checkpoint = _options.CheckpointDirectory is null ? null : Path.Combine(_options.CheckpointDirectory, CheckpointFile);
        string? previous = _options.CheckpointDirectory is null ? null : Path.Combine(_options.CheckpointDirectory, PreviousCheckpointFile);
        var identity = RunIdentity.Of(data.Count, batch, recipe, data.Fingerprint, contexts?.Fingerprint);
        if (checkpoint is not null && _options.Resume) Resume(session, checkpoint, previous!, identity, channel);
        void Save() => session.SaveCheckpoint(checkpoint!, identity, previous);

        Tensor? order = null;
        long orderEpoch = -1;
        double lossSum = 0;
        int lossCount = 0;
        try
        {
            while (session.Step < totalSteps)
            {
                if (_options.CancellationToken.IsCancellationRequested)
                {
                    channel.Info(MessageSensitivity.None, $"Cancelled at step {session.Step}; returning the current EMA weights.");
                    break;
                }
                long epoch = session.Step / stepsPerEpoch, offset = session.Step % stepsPerEpoch * batch;
                if (epoch != orderEpoch)
                {
                    order?.Dispose();
                    order = EpochOrder(data.Count, seed, epoch);
                    orderEpoch = epoch;
                }
                float loss;
                using (NewDisposeScope())
                {
                    var rows = order!.slice(0, offset, offset + batch, 1);                                  // [B]
                    var (x0, labels) = data.Batch(rows, session.Random);                                  // [B, C, S, S], [B]
                    var context = contexts?.Draw(rows, session.Random);                                   // [B, T, D]
                    loss = session.TrainStep(x0, labels, context);
                }
                if (!float.IsFinite(loss))
                {
                    channel.Warning(MessageSensitivity.None, $"step {session.Step + 1}: loss {loss} or its gradient is not finite; step skipped " +
                                                             $"({session.SkippedSteps} skipped so far, {session.ConsecutiveSkippedSteps} in a row).");
                    continue;
                }
                lossSum += loss;
                lossCount++;
                bool last = session.Step == totalSteps;
                if (session.Step % _options.ReportInterval == 0 || last)
                {
                    var report = new TrainingProgress(session.Step, totalSteps, (float)(lossSum / lossCount), session.NextLearningRate, clock.Elapsed);
                    channel.Info(MessageSensitivity.None, $"step {report.Step}/{report.TotalSteps} loss {report.Loss:F4} lr {report.LearningRate:G3} elapsed {report.Elapsed:mm\\:ss}");
                    _options.Progress?.Report(report);
                    lossSum = 0;
                    lossCount = 0;
                }
                if (checkpoint is not null && (session.Step % _options.CheckpointInterval == 0 || last)) Save();
            }
            if (checkpoint is not null && _options.CancellationToken.IsCancellationRequested) Save();
        }
        finally
        {
            order?.Dispose();
        }
        var outputRange = _options.MomentsCachePath is null ? _options.InputRange : PixelRange.Symmetric;  // latents pass unchanged
        return new UViTGenerationTransformer(session.FinishIntoGenerator(), _options.Sampling, outputRange, data.ClassNames,
                                             _options.LabelColumnName, contextColumnName: _options.ContextColumnName ?? UViTColumns.Context,
                                             batchSize: _options.GenerationBatchSize);
    }

    /// <summary>
    /// Continues from the latest checkpoint, or from the previous one when the latest cannot be read (a damaged file), after
    /// checking that it belongs to this run: same data count, batch size and recipe (the network is checked by the load).
    /// </summary>
    private void Resume(UViTTrainingSession session, string checkpoint, string previous, IReadOnlyDictionary<string, string> identity, IChannel channel)
    {
        string? source = File.Exists(checkpoint) ? checkpoint : File.Exists(previous) ? previous : null;
        if (source is null) return;
        IReadOnlyDictionary<string, string> stored;
        try
        {
            stored = session.LoadCheckpoint(source);
        }
        catch (InvalidDataException e) when (source == checkpoint && File.Exists(previous))
        {
            channel.Warning(MessageSensitivity.None, $"{e.Message} Resuming from the previous checkpoint {previous} instead.");
            source = previous;
            stored = session.LoadCheckpoint(source);
        }
        if (!_options.ResumeDespiteMismatch && RunIdentity.Mismatch(stored, identity) is { } mismatch)
            throw new ArgumentException($"Checkpoint '{source}' belongs to another run: {mismatch}. Resume with the same settings, " +
                                        "start afresh in another folder, or set ResumeDespiteMismatch to continue anyway.");
        channel.Info(MessageSensitivity.None, $"Resumed from {source} at step {session.Step}.");
    }

    /// <summary>The row order of an epoch: a permutation drawn from (seed, epoch), so a resumed run sees the same batches.</summary>
    private static Tensor EpochOrder(long count, long seed, long epoch)
    {
        using var generator = new TorchSharp.torch.Generator(unchecked((ulong)(seed * 1_000_003 + epoch)));
        return randperm(count, generator: generator);   // [N]
    }
}
