// Builds a moments cache from an image column, as the official latent U-ViT feature extraction does: each image (and its
// horizontal flip) is encoded once to autoencoder moments; training then re-samples latents from them every step. Rows are
// streamed in batches into the file, so neither the images nor the moments need to fit in memory.
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

/// <summary>Encodes an image column once into a moments cache file for <see cref="UViTTrainerOptions.MomentsCachePath"/>.</summary>
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
        if (options.BatchSize < 1) throw new ArgumentOutOfRangeException(nameof(options), $"BatchSize must be at least 1; got {options.BatchSize}.");
        var (channels, size) = TrainingData.ImageShape(data.Schema, options.ImageColumnName);
        var classNames = TrainingData.LabelClasses(data.Schema, options.LabelColumnName);
        int factor = autoencoder.Config.DownsampleFactor, perImage = channels * size * size;
        var layout = new MomentsCacheHeader(0, 2 * autoencoder.Config.EmbedDim, size / factor, size / factor, options.IncludeFlipped,
                                            autoencoder.Config.ScaleFactor, classNames);
        var (scale, offset) = PixelRanges.ToModel(options.InputRange);
        var imageColumn = data.Schema[options.ImageColumnName];
        var columns = classNames is null ? new[] { imageColumn } : [imageColumn, data.Schema[options.LabelColumnName]];

        using var writer = new MomentsCacheWriter(path, layout);
        using (var cursor = data.GetRowCursor(columns))
        {
            var getImage = cursor.GetGetter<VBuffer<float>>(imageColumn);
            ValueGetter<uint>? getLabel = classNames is null ? null : cursor.GetGetter<uint>(data.Schema[options.LabelColumnName]);
            VBuffer<float> image = default;
            uint key = 0;
            var pixels = new List<float>();
            var labels = new List<long>();
            bool more = true;
            while (more)
            {
                options.CancellationToken.ThrowIfCancellationRequested();
                pixels.Clear();
                labels.Clear();
                while (pixels.Count < options.BatchSize * perImage && (more = cursor.MoveNext()))
                {
                    getImage(ref image);
                    if (image.Length != perImage)
                        throw new InvalidDataException($"Row {cursor.Position}: image column '{options.ImageColumnName}' has {image.Length} values; expected {perImage}.");
                    foreach (float v in image.DenseValues()) pixels.Add(v * scale + offset);
                    if (getLabel is null) continue;
                    getLabel(ref key);
                    if (key == 0) throw new InvalidDataException($"Row {cursor.Position}: label column '{options.LabelColumnName}' is missing (key value 0).");
                    labels.Add(key - 1);
                }
                if (pixels.Count > 0) Encode(writer, autoencoder, pixels, labels, channels, size, options.IncludeFlipped, classNames is not null);
            }
        }
        if (writer.Count == 0) throw new ArgumentException("The data has no rows to cache.", nameof(data));
        writer.Commit();
        return layout with { Count = writer.Count };
    }

    private static void Encode(MomentsCacheWriter writer, AutoencoderKL autoencoder, List<float> pixels, List<long> labels,
                               int channels, int size, bool flip, bool hasLabels)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var images = tensor(pixels.ToArray(), [pixels.Count / (channels * size * size), channels, size, size]); // [b, C, S, S]
        var moments = autoencoder.Moments(images).cpu();                                                    // [b, 2E, s, s]
        var flipped = flip ? autoencoder.Moments(images.flip(3)).cpu() : null;                              // [b, 2E, s, s]
        writer.Append(moments, flipped, hasLabels ? labels : null);
    }
}
