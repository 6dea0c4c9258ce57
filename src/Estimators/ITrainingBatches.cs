// What the trainer's loop needs from its data: size and shape, classes, and a batch for given rows.
using static TorchSharp.torch;

namespace UViT.MLNet.Estimators;

/// <summary>A training set the trainer draws batches from: in memory (<see cref="TrainingData"/>), in a training store
/// (<see cref="StoredTrainingData"/>) or a moments cache on disk.</summary>
internal interface ITrainingBatches : IDisposable
{
    long Count { get; }
    int Channels { get; }
    int Size { get; }
    /// <summary>Number of classes (key cardinality) or 0 without labels.</summary>
    int ClassCount { get; }
    IReadOnlyList<string> ClassNames { get; }
    /// <summary>SHA-256 of the rows as read (TrainingStoreFingerprint), part of the run's identity; null when the data is a moments cache.</summary>
    string? Fingerprint { get; }

    /// <summary>The model-space data [B, C, S, S] and 0-based labels [B] (or null) of <paramref name="rows"/> ([B] int64).
    /// Any randomness (flip choice, latent sampling) comes from <paramref name="random"/>, the session's checkpointed generator.</summary>
    (Tensor X0, Tensor? Labels) Batch(Tensor rows, Generator random);
}
