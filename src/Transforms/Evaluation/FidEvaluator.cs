// FID (and optionally Inception Score) of the images in a data view, in one streaming pass: rows are read batch by batch,
// each batch goes through the FID Inception network and only its pool3 features' running sums are kept
// (FeatureStatisticsAccumulator), so 50,000 generated images never have to be held - generation itself is lazy in ML.NET,
// so a generator's output view is sampled batch by batch as this pass reads it.
using Microsoft.ML;
using UViT.MLNet.Core.Evaluation;
using UViT.MLNet.Core.Runtime;
using static TorchSharp.torch;

namespace UViT.MLNet.Transforms.Evaluation;

/// <summary>Computes FID statistics and scores of image data views with the FID Inception v3 network.</summary>
public sealed class FidEvaluator : IDisposable
{
    private readonly bool _ownsNetwork;
    private readonly Device _device;

    /// <summary>Loads the FID Inception weights: <c>pt_inception-2015-12-05-6726825d.pth</c> (torch.save, legacy or zip) or a safetensors copy.</summary>
    public FidEvaluator(string inceptionWeightsPath, FidOptions? options = null)
        : this(LoadNetwork(inceptionWeightsPath, options ?? new FidOptions()), options, ownsNetwork: true)
    {
    }

    /// <summary>Uses an already loaded network (not disposed with this evaluator); it must be on <see cref="FidOptions.Device"/>.</summary>
    public FidEvaluator(FidInceptionV3 network, FidOptions? options = null) : this(network, options, ownsNetwork: false)
    {
    }

    private FidEvaluator(FidInceptionV3 network, FidOptions? options, bool ownsNetwork)
    {
        Options = options ?? new FidOptions();
        if (Options.BatchSize < 1) throw new ArgumentOutOfRangeException(nameof(options), $"BatchSize must be at least 1; got {Options.BatchSize}.");
        (Network, _ownsNetwork, _device) = (network, ownsNetwork, TorchRuntime.ParseDevice(Options.Device));
    }

    /// <summary>The FID Inception network.</summary>
    public FidInceptionV3 Network { get; }

    /// <summary>Column, range, batching, device, Inception Score and recorded settings.</summary>
    public FidOptions Options { get; }

    /// <summary>Mean and covariance of the pool3 features of every image in <paramref name="data"/> (e.g. reference statistics).</summary>
    /// <exception cref="ArgumentException">The image column is missing or unusable, or there are fewer than 2 images.</exception>
    public FeatureStatistics ComputeStatistics(IDataView data, IProgress<FidProgress>? progress = null, CancellationToken cancellationToken = default) =>
        Pass(data, inceptionScore: false, progress, cancellationToken).Statistics;

    /// <summary>
    /// Mergeable sums (count, sum, sum of outer products) of the pool3 features of every image in <paramref name="data"/>: the
    /// per-shard FID statistics that <see cref="FeatureSums.Merge"/> combines. At least one image.
    /// </summary>
    public FeatureSums ComputeSums(IDataView data, IProgress<FidProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        using var accumulator = new FeatureStatisticsAccumulator();
        Accumulate(data, accumulator, null, progress, cancellationToken);
        if (accumulator.Count == 0) throw new ArgumentException("FID sums need at least 1 image; the view has none.", nameof(data));
        return accumulator.ToSums();
    }

    /// <summary>FID of <paramref name="data"/>'s images against <paramref name="reference"/> (and IS when the options ask for it).</summary>
    /// <exception cref="ArgumentException">The image column is missing or unusable, too few images, or the reference is not 2048-d.</exception>
    public FidResult Evaluate(IDataView data, FeatureStatistics reference, IProgress<FidProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(reference);
        if (reference.Dimension != FidInceptionV3.FeatureDim)
            throw new ArgumentException($"Reference statistics are {reference.Dimension}-dimensional; FID uses the {FidInceptionV3.FeatureDim}-d pool3 features.", nameof(reference));
        var (statistics, score, count) = Pass(data, Options.ComputeInceptionScore, progress, cancellationToken);
        return new FidResult(FrechetDistance.Compute(statistics, reference), count, score, new Dictionary<string, string>(Options.Settings));
    }

    private (FeatureStatistics Statistics, (double, double)? Score, long Count) Pass(IDataView data, bool inceptionScore, IProgress<FidProgress>? progress, CancellationToken cancellationToken)
    {
        using var accumulator = new FeatureStatisticsAccumulator();
        var logits = inceptionScore ? new List<float[]>() : null;
        var column = Accumulate(data, accumulator, logits, progress, cancellationToken);
        if (accumulator.Count < 2) throw new ArgumentException($"FID needs at least 2 images; column '{column.Column.Name}' gave {accumulator.Count}.", nameof(data));
        return (accumulator.ToStatistics(), logits is null ? null : Score(logits, accumulator.Count), accumulator.Count);
    }

    /// <summary>Adds the features of every image in <paramref name="data"/> (and their logits, if asked) batch by batch.</summary>
    private FidImageColumn Accumulate(IDataView data, FeatureStatisticsAccumulator accumulator, List<float[]>? logits, IProgress<FidProgress>? progress, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(data);
        var column = new FidImageColumn(data.Schema, Options);
        long? total = data.GetRowCount();
        var batch = new List<RgbImage>(Options.BatchSize);
        using (var cursor = data.GetRowCursor([column.Column]))
        {
            var read = column.CreateReader(cursor);
            bool more = true;
            while (more)
            {
                cancellationToken.ThrowIfCancellationRequested();
                more = cursor.MoveNext();
                if (more) batch.Add(read());
                if (batch.Count == Options.BatchSize || (!more && batch.Count > 0))
                {
                    AddBatch(batch, accumulator, logits);
                    batch.Clear();
                    progress?.Report(new FidProgress(accumulator.Count, total));
                }
            }
        }
        return column;
    }

    private void AddBatch(List<RgbImage> batch, FeatureStatisticsAccumulator accumulator, List<float[]>? logits)
    {
        using var scope = NewDisposeScope();
        var features = Network.forward(Stack(batch).to(_device));            // [B, 2048]
        accumulator.Add(features);
        if (logits is not null) logits.Add(Network.UnbiasedLogits(features).cpu().contiguous().data<float>().ToArray()); // B * 1008 values
    }

    /// <summary>
    /// [B, 3, H, W] in [0, 1]. Images of different sizes are each resized to 299x299 here, with the same bilinear resize the
    /// network applies (which is then the identity), so a folder of mixed sizes gives what one-by-one evaluation would.
    /// </summary>
    private static Tensor Stack(List<RgbImage> batch)
    {
        var first = batch[0];
        if (batch.All(i => i.Height == first.Height && i.Width == first.Width))
            return tensor(batch.SelectMany(i => i.Pixels).ToArray(), [batch.Count, 3, first.Height, first.Width]);
        long size = FidInceptionV3.InputSize;
        return cat(batch.Select(i => nn.functional.interpolate(tensor(i.Pixels, [1, 3, i.Height, i.Width]), size: [size, size],
                                                                mode: InterpolationMode.Bilinear, align_corners: false)).ToList(), 0);
    }

    private static (double, double) Score(List<float[]> logits, long count)
    {
        if (count < InceptionScore.DefaultSplits)
            throw new ArgumentException($"The Inception Score needs at least {InceptionScore.DefaultSplits} images (one per split); got {count}.");
        using var all = tensor(logits.SelectMany(l => l).ToArray(), [count, FidInceptionV3.LogitCount]);   // [N, 1008]
        return InceptionScore.Compute(all);
    }

    private static FidInceptionV3 LoadNetwork(string path, FidOptions options)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"FID Inception weights '{path}' not found.", path);
        return FidInceptionV3.Load(path, TorchRuntime.ParseDevice(options.Device));
    }

    public void Dispose()
    {
        if (_ownsNetwork) Network.Dispose();
    }
}
