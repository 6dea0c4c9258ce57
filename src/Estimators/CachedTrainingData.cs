// The trainer's view of a moments cache: rows are cache records, and each batch samples fresh latents from the stored
// moments (with a random flip choice when flips are stored), as the official latent U-ViT training does.
using UViT.MLNet.Core.Training;
using static TorchSharp.torch;

namespace UViT.MLNet.Estimators;

/// <summary>Training batches read from a <see cref="MomentsCache"/> file, sampled anew at every step.</summary>
internal sealed class CachedTrainingData : ITrainingBatches
{
    private readonly MomentsCache _cache;

    public CachedTrainingData(string path)
    {
        _cache = MomentsCache.Open(path);
        var header = _cache.Header;
        if (header.Height != header.Width)
        {
            _cache.Dispose();
            throw new InvalidDataException($"Moments cache '{_cache.Path}' holds {header.Height}x{header.Width} latents; U-ViT needs square ones.");
        }
        if (header.Count == 0)
        {
            _cache.Dispose();
            throw new InvalidDataException($"Moments cache '{_cache.Path}' has no records.");
        }
    }

    public long Count => _cache.Count;
    public int Channels => _cache.LatentChannels;
    public int Size => _cache.Header.Height;
    public int ClassCount => _cache.Header.ClassNames?.Count ?? 0;
    public IReadOnlyList<string> ClassNames => _cache.Header.ClassNames ?? [];
    public string? Fingerprint => null;

    public (Tensor X0, Tensor? Labels) Batch(Tensor rows, Generator random) => _cache.SampleBatch(rows.data<long>().ToArray(), random);

    public void Dispose() => _cache.Dispose();
}
