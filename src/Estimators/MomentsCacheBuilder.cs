// Builds moments caches, as the official latent U-ViT feature extraction does: each image (and its horizontal flip) is
// encoded once to autoencoder moments, or moments already computed are copied; training then re-samples latents from them
// every step. Rows are streamed in batches into the file, so neither the images nor the moments need to fit in memory.
using Microsoft.ML;
using Microsoft.ML.Data;
using UViT.MLNet.Core.Autoencoder;
using UViT.MLNet.Core.Training;
using UViT.MLNet.Transforms.Generation;
using static TorchSharp.torch;

namespace UViT.MLNet.Estimators;

/// <summary>Settings of <see cref="MomentsCacheBuilder.Build"/>.</summary>
public sealed record MomentsCacheOptions
{
    /// <summary>Vector&lt;Single, C, H, W&gt; images (planar, e.g. from ExtractPixels), H = W, multiples of the downsample factor.</summary>
    public string ImageColumnName { get; init; } = "Image";
    /// <summary>Range of the image values; the autoencoder sees [-1, 1].</summary>
    public PixelRange InputRange { get; init; } = PixelRange.Bytes;
    /// <summary>A UInt32 key column stored with each record; when the input has no column of this name the cache has no labels.</summary>
    public string LabelColumnName { get; init; } = "Label";
    /// <summary>Also store the moments of each horizontally flipped image (training then picks one of the two at random).</summary>
    public bool IncludeFlipped { get; init; } = true;
    /// <summary>Rows encoded per autoencoder call.</summary>
    public int BatchSize { get; init; } = 16;
    /// <summary>Stops building (the partial file is deleted).</summary>
    public CancellationToken CancellationToken { get; init; }
}

/// <summary>Writes moments cache files for <see cref="UViTTrainerOptions.MomentsCachePath"/>: from images (encoding them,
/// and their flips, once) or from a column of moments already computed (e.g. EncodeLatents with <c>LatentOutput.Moments</c>).</summary>
public static class MomentsCacheBuilder
{
    /// <summary>Encodes every row of <paramref name="data"/> and writes the cache to <paramref name="path"/> atomically.</summary>
    /// <param name="autoencoder">The autoencoder (in eval mode; its device is used); its scale factor is stored in the cache.</param>
    /// <returns>The header of the written cache.</returns>
    public static MomentsCacheHeader Build(IDataView data, string path, AutoencoderKL autoencoder, MomentsCacheOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(autoencoder);
        options ??= new MomentsCacheOptions();
        var (channels, size) = TrainingData.ImageShape(data.Schema, options.ImageColumnName);
        int factor = autoencoder.Config.DownsampleFactor;
        if (size % factor != 0)
            throw new ArgumentOutOfRangeException(nameof(data), $"Image column '{options.ImageColumnName}' holds {size}x{size} images; the autoencoder needs multiples of {factor}.");
        var classNames = TrainingData.LabelClasses(data.Schema, options.LabelColumnName);
        var layout = new MomentsCacheHeader(0, 2 * autoencoder.Config.EmbedDim, size / factor, size / factor, options.IncludeFlipped,
                                            autoencoder.Config.ScaleFactor, classNames);
        return Write(data, path, layout, options, options.ImageColumnName, [channels, size, size], PixelRanges.ToModel(options.InputRange), values =>
        {
            using var noGrad = no_grad();
            var moments = autoencoder.Moments(values).cpu();                                    // [b, 2E, s, s]
            var flipped = options.IncludeFlipped ? autoencoder.Moments(values.flip(3)).cpu() : null; // [b, 2E, s, s]
            return (moments, flipped);
        });
    }

    /// <summary>
    /// Writes the moments already in <paramref name="momentsColumnName"/> (a Vector&lt;Single, 2E, h, w&gt;, e.g. EncodeLatents with
    /// <c>LatentOutput.Moments</c>) to a cache without flipped moments; <see cref="MomentsCacheOptions.ImageColumnName"/>,
    /// <see cref="MomentsCacheOptions.InputRange"/> and <see cref="MomentsCacheOptions.IncludeFlipped"/> are not used.
    /// </summary>
    /// <param name="scaleFactor">The latent scale of the autoencoder that produced the moments (0.18215 for Stable Diffusion's).</param>
    /// <returns>The header of the written cache.</returns>
    public static MomentsCacheHeader BuildFromMoments(IDataView data, string path, string momentsColumnName, double scaleFactor, MomentsCacheOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(data);
        options ??= new MomentsCacheOptions();
        var column = data.Schema.GetColumnOrNull(momentsColumnName)
            ?? throw new ArgumentOutOfRangeException(nameof(momentsColumnName), $"Moments column '{momentsColumnName}' not found. Columns present: {string.Join(", ", data.Schema.Select(c => c.Name))}.");
        if (column.Type is not VectorDataViewType { Dimensions: [> 0 and var c, > 0 and var h, > 0 and var w] } vector || vector.ItemType != NumberDataViewType.Single || c % 2 != 0)
            throw new ArgumentOutOfRangeException(nameof(momentsColumnName), $"Moments column '{momentsColumnName}' must be a Vector<Single, 2E, h, w> (mean, then log-variance); found {column.Type}.");
        if (!(scaleFactor > 0 && double.IsFinite(scaleFactor))) throw new ArgumentOutOfRangeException(nameof(scaleFactor), $"The scale factor must be positive; got {scaleFactor}.");
        var layout = new MomentsCacheHeader(0, c, h, w, HasFlipped: false, scaleFactor, TrainingData.LabelClasses(data.Schema, options.LabelColumnName));
        return Write(data, path, layout, options, momentsColumnName, [c, h, w], (1f, 0f), values => (values, null));
    }

    /// <summary>Streams <paramref name="column"/> (and labels) in batches through <paramref name="toMoments"/> into a new cache.</summary>
    private static MomentsCacheHeader Write(IDataView data, string path, MomentsCacheHeader layout, MomentsCacheOptions options, string column, long[] rowShape,
                                            (float Scale, float Offset) toModel, Func<Tensor, (Tensor Moments, Tensor? Flipped)> toMoments)
    {
        if (options.BatchSize < 1) throw new ArgumentOutOfRangeException(nameof(options), $"BatchSize must be at least 1; got {options.BatchSize}.");
        int perRow = checked((int)rowShape.Aggregate(1L, (a, b) => a * b));
        var valueColumn = data.Schema[column];
        var columns = layout.HasLabels ? [valueColumn, data.Schema[options.LabelColumnName]] : new[] { valueColumn };
        using var writer = new MomentsCacheWriter(path, layout);
        using (var cursor = data.GetRowCursor(columns))
        {
            var getValues = cursor.GetGetter<VBuffer<float>>(valueColumn);
            ValueGetter<uint>? getLabel = layout.HasLabels ? cursor.GetGetter<uint>(data.Schema[options.LabelColumnName]) : null;
            VBuffer<float> row = default;
            uint key = 0;
            var values = new List<float>();
            var labels = new List<long>();
            bool more = true;
            while (more)
            {
                options.CancellationToken.ThrowIfCancellationRequested();
                values.Clear();
                labels.Clear();
                while (values.Count < options.BatchSize * perRow && (more = cursor.MoveNext()))
                {
                    getValues(ref row);
                    if (row.Length != perRow) throw new InvalidDataException($"Row {cursor.Position}: column '{column}' has {row.Length} values; expected {perRow}.");
                    foreach (float v in row.DenseValues())
                    {
                        if (!float.IsFinite(v)) throw new InvalidDataException($"Row {cursor.Position}: column '{column}' holds {v}.");
                        values.Add(v * toModel.Scale + toModel.Offset);
                    }
                    if (getLabel is null) continue;
                    getLabel(ref key);
                    if (key == 0) throw new InvalidDataException($"Row {cursor.Position}: label column '{options.LabelColumnName}' is missing (key value 0).");
                    labels.Add(key - 1);
                }
                if (values.Count == 0) continue;
                using var scope = NewDisposeScope();
                var batch = tensor(values.ToArray(), [values.Count / perRow, .. rowShape]);     // [b, C, H, W] model-space values
                var (moments, flipped) = toMoments(batch);                                       // [b, 2E, h, w] each
                writer.Append(moments, flipped, layout.HasLabels ? labels : null);
            }
        }
        if (writer.Count == 0) throw new ArgumentException("The data has no rows to cache.", nameof(data));
        writer.Commit();
        return layout with { Count = writer.Count };
    }
}
