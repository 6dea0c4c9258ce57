// The trainer's view of a training store of images: each batch reads its rows' images (and labels) by offset, so the
// training set need not fit in memory. Gives exactly the batches the in-memory TrainingData gives for the same rows.
using UViT.MLNet.Core.Training;
using static TorchSharp.torch;

namespace UViT.MLNet.Estimators;

/// <summary>Model-space images [N, C, S, S] and optional 0-based labels in a <see cref="TrainingStore"/> file.</summary>
internal sealed class StoredTrainingData : ITrainingBatches
{
    private readonly TrainingStore _store;

    /// <param name="store">An open store of [C, S, S] items (taken over: disposed with this).</param>
    public StoredTrainingData(TrainingStore store)
    {
        _store = store;
        var shape = store.Header.ItemShape;
        if (shape.Count != 3 || shape[1] != shape[2] || store.Header.HasRowTable || store.Count == 0)
        {
            store.Dispose();
            throw new InvalidDataException($"Training store '{store.Path}' does not hold square images, one per row (item shape [{string.Join(", ", shape)}], {store.Count} rows).");
        }
    }

    public long Count => _store.Count;
    public int Channels => _store.Header.ItemShape[0];
    public int Size => _store.Header.ItemShape[1];
    public int ClassCount => ClassNames.Count;
    public IReadOnlyList<string> ClassNames => _store.Header.ClassNames ?? [];
    public string? Fingerprint => _store.Header.Fingerprint;

    /// <summary>The stored rows; deterministic, so <paramref name="random"/> is not drawn from.</summary>
    public (Tensor X0, Tensor? Labels) Batch(Tensor rows, Generator random)
    {
        var indices = rows.data<long>().ToArray();
        return (_store.ReadItems(indices), _store.Header.HasLabels ? _store.ReadLabels(indices) : null);    // [B, C, S, S], [B]
    }

    public void Dispose() => _store.Dispose();
}
