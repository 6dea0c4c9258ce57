// The text contexts of a text-to-image training set in a training store: each step reads one drawn caption's context per
// row by offset. The draw is TrainingContexts.DrawCaptions, so the batches equal the in-memory ones for the same seed.
using UViT.MLNet.Core.Training;
using static TorchSharp.torch;

namespace UViT.MLNet.Estimators;

/// <summary>Contexts [M, T, D] of all captions in a <see cref="TrainingStore"/> with a row table (each row's captions).</summary>
internal sealed class StoredTrainingContexts : ITrainingContexts
{
    private readonly TrainingStore _store;

    /// <param name="store">An open store of [T, D] items with a row table (taken over: disposed with this).</param>
    /// <param name="emptyContext">[T, D] context of the empty prompt, or null (taken over).</param>
    public StoredTrainingContexts(TrainingStore store, Tensor? emptyContext)
    {
        _store = store;
        EmptyContext = emptyContext;
        if (store.Header.ItemShape.Count != 2 || !store.Header.HasRowTable || store.Count == 0)
        {
            Dispose();
            throw new InvalidDataException($"Training store '{store.Path}' does not hold text contexts (item shape [{string.Join(", ", store.Header.ItemShape)}], {store.Count} rows).");
        }
    }

    public int Tokens => _store.Header.ItemShape[0];
    public int Width => _store.Header.ItemShape[1];
    public Tensor? EmptyContext { get; }
    public long Count => _store.Count;
    public long CaptionCount => _store.Header.ItemCount;
    public string Fingerprint => _store.Header.Fingerprint;

    public Tensor Draw(Tensor rows, Generator random)
    {
        var ranges = rows.data<long>().ToArray().Select(_store.Items).ToArray();
        using var first = tensor(ranges.Select(r => r.First).ToArray());                     // [B]
        using var counts = tensor(ranges.Select(r => r.Count).ToArray());                    // [B]
        using var index = TrainingContexts.DrawCaptions(first, counts, random);              // [B]
        return _store.ReadItems(index.data<long>().ToArray());                              // [B, T, D]
    }

    public void Dispose()
    {
        _store.Dispose();
        EmptyContext?.Dispose();
    }
}
