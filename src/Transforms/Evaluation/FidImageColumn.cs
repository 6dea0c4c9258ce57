// Reads the images of an FID pass from a data view column as planar RGB in [0, 1], the FID Inception network's input:
// a Vector<Single, C, H, W> column (C = 1 is replicated to three channels, values mapped from their PixelRange) or an
// MLImage column (Bgra32 or Rgba32 bytes divided by 255). Schema errors name the column and what was found.
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Image;
using UViT.MLNet.Transforms.Generation;
using UViT.MLNet.Transforms.Latents;

namespace UViT.MLNet.Transforms.Evaluation;

/// <summary>One image as planar RGB [3, H, W] in [0, 1].</summary>
internal readonly record struct RgbImage(float[] Pixels, int Height, int Width);

internal sealed class FidImageColumn
{
    private readonly PixelRange _range;
    private readonly (int Channels, int Height, int Width)? _planar;   // null: an MLImage column

    /// <exception cref="ArgumentOutOfRangeException">The column is missing, of another type, or not 1 or 3 channels.</exception>
    public FidImageColumn(DataViewSchema schema, FidOptions options)
    {
        var found = schema.GetColumnOrNull(options.ImageColumnName)
            ?? throw new ArgumentOutOfRangeException(nameof(schema), $"Image column '{options.ImageColumnName}' not found. Columns present: {string.Join(", ", schema.Select(c => c.Name))}.");
        Column = found;
        _range = options.InputRange;
        if (found.Type is ImageDataViewType) return;
        var planar = LatentColumns.Planar(schema, options.ImageColumnName, "Image");
        if (planar.Channels is not (1 or 3))
            throw new ArgumentOutOfRangeException(nameof(schema), $"Image column '{options.ImageColumnName}' has {planar.Channels} channels ({found.Type}); " +
                                                                  "FID needs 1 (grey, replicated) or 3 (RGB). Decode latents to images first.");
        _planar = planar;
    }

    /// <summary>The column read.</summary>
    public DataViewSchema.Column Column { get; }

    /// <summary>A reader of the current row's image.</summary>
    public Func<RgbImage> CreateReader(DataViewRow row) => _planar is { } p ? VectorReader(row, p) : ImageReader(row);

    private Func<RgbImage> VectorReader(DataViewRow row, (int Channels, int Height, int Width) shape)
    {
        var read = LatentColumns.VectorReader(row, Column, shape.Channels * shape.Height * shape.Width);
        var (scale, offset) = PixelRanges.ToModel(_range);     // model = v * scale + offset in [-1, 1]; unit = (model + 1) / 2
        int plane = shape.Height * shape.Width;
        return () =>
        {
            var values = read();
            var rgb = new float[3 * plane];
            for (int k = 0; k < 3; k++)
            {
                int source = (shape.Channels == 1 ? 0 : k) * plane;
                for (int i = 0; i < plane; i++) rgb[k * plane + i] = Math.Clamp((values[source + i] * scale + offset + 1f) * 0.5f, 0f, 1f);
            }
            return new RgbImage(rgb, shape.Height, shape.Width);
        };
    }

    private Func<RgbImage> ImageReader(DataViewRow row)
    {
        var getter = row.GetGetter<MLImage>(Column);
        MLImage image = null!;
        return () =>
        {
            getter(ref image);
            if (image is null) throw new InvalidDataException($"Row {row.Position}: column '{Column.Name}' holds no image (a file that failed to load?).");
            var (red, blue) = image.PixelFormat switch
            {
                MLPixelFormat.Bgra32 => (2, 0),
                MLPixelFormat.Rgba32 => (0, 2),
                _ => throw new InvalidDataException($"Row {row.Position}: column '{Column.Name}' holds an image of pixel format {image.PixelFormat}; expected Bgra32 or Rgba32."),
            };
            int plane = image.Width * image.Height;
            var bytes = image.Pixels;
            var rgb = new float[3 * plane];
            for (int i = 0; i < plane; i++)
            {
                rgb[i] = bytes[4 * i + red] / 255f;
                rgb[plane + i] = bytes[4 * i + 1] / 255f;
                rgb[2 * plane + i] = bytes[4 * i + blue] / 255f;
            }
            return new RgbImage(rgb, image.Height, image.Width);
        };
    }
}
