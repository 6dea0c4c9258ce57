// What the trainer's loop needs from a text-to-image training set's contexts: shape, the empty prompt, and a drawn context per row.
using static TorchSharp.torch;

namespace UViT.MLNet.Estimators;

/// <summary>Text contexts of the training rows: in memory (<see cref="TrainingContexts"/>) or in a training store (<see cref="StoredTrainingContexts"/>).</summary>
internal interface ITrainingContexts : IDisposable
{
    /// <summary>Tokens per context (T).</summary>
    int Tokens { get; }
    /// <summary>Width of a context token (D).</summary>
    int Width { get; }
    /// <summary>[T, D] context of the empty prompt (for guidance dropout), or null when neither the column nor the options give it.</summary>
    Tensor? EmptyContext { get; }
    /// <summary>Rows.</summary>
    long Count { get; }
    /// <summary>Captions over all rows.</summary>
    long CaptionCount { get; }
    /// <summary>SHA-256 of the rows as read (TrainingStoreFingerprint), part of the run's identity.</summary>
    string Fingerprint { get; }

    /// <summary>One context per row of <paramref name="rows"/> ([B] int64), a caption drawn uniformly from each row's captions.</summary>
    /// <returns>[B, T, D]</returns>
    Tensor Draw(Tensor rows, Generator random);
}
