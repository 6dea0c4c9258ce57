// The trainer's input rows, streamed from an IDataView cursor one row at a time and validated on the way: images scaled to
// model space, labels made 0-based, text contexts checked for whole [T, D] contexts. Whoever consumes the rows decides
// whether they are held in memory or written to a training store (TrainingStorage).
using Microsoft.ML;
using Microsoft.ML.Data;
using UViT.MLNet.Transforms.Generation;

namespace UViT.MLNet.Estimators;

/// <summary>One row as the trainer keeps it: float32 values (one image, or a row's contexts) and its 0-based label, or -1 without labels.</summary>
internal readonly record struct TrainingRow(float[] Values, int Label);

internal static class TrainingRows
{
    /// <summary>The image column's rows in model space [-1, 1], with labels when <paramref name="labels"/>; each row a new array.</summary>
    /// <exception cref="InvalidDataException">A row has the wrong length, a non-finite value or a missing label; or the values
    /// map far outside [-1, 1] (checked when the cursor ends, so it is reported before training starts either way).</exception>
    /// <exception cref="ArgumentException">The input has no rows.</exception>
    public static IEnumerable<TrainingRow> Images(IDataView data, UViTTrainerOptions options, int perImage, bool labels)
    {
        var imageColumn = data.Schema[options.ImageColumnName];
        var columns = new List<DataViewSchema.Column> { imageColumn };
        if (labels) columns.Add(data.Schema[options.LabelColumnName]);
        var (scale, offset) = PixelRanges.ToModel(options.InputRange);
        float low = float.PositiveInfinity, high = float.NegativeInfinity;
        long count = 0;
        using (var cursor = data.GetRowCursor(columns))
        {
            var getImage = cursor.GetGetter<VBuffer<float>>(imageColumn);
            ValueGetter<uint>? getLabel = labels ? cursor.GetGetter<uint>(data.Schema[options.LabelColumnName]) : null;
            VBuffer<float> image = default;
            uint key = 0;
            while (cursor.MoveNext())
            {
                options.CancellationToken.ThrowIfCancellationRequested();
                getImage(ref image);
                if (image.Length != perImage)
                    throw new InvalidDataException($"Row {cursor.Position}: image column '{options.ImageColumnName}' has {image.Length} values; expected {perImage}.");
                var row = new float[perImage];
                image.CopyTo(row);
                for (int k = 0; k < row.Length; k++)
                {
                    float v = row[k];
                    if (!float.IsFinite(v)) throw new InvalidDataException($"Row {cursor.Position}: image column '{options.ImageColumnName}' holds {v}.");
                    row[k] = v = v * scale + offset;
                    low = Math.Min(low, v);
                    high = Math.Max(high, v);
                }
                int label = -1;
                if (getLabel is not null)
                {
                    getLabel(ref key);
                    if (key == 0) throw new InvalidDataException($"Row {cursor.Position}: label column '{options.LabelColumnName}' is missing (key value 0).");
                    label = checked((int)(key - 1));
                }
                count++;
                yield return new TrainingRow(row, label);
            }
        }
        if (count == 0) throw new ArgumentException("The training data has no rows.");
        // A range check catches a wrong InputRange for pixels; Symmetric values pass unchanged and may be latents
        // (roughly unit variance, not bounded by 1), so they are not checked.
        if (options.InputRange != PixelRange.Symmetric && (low < -1.5 || high > 1.5))
            throw new InvalidDataException($"Image values map to [{low:F2}, {high:F2}] in model space, far outside [-1, 1]: is InputRange ({options.InputRange}) right for column '{options.ImageColumnName}'?");
    }

    /// <summary>The context column's rows: each one or more [<paramref name="tokens"/>, <paramref name="width"/>] contexts.</summary>
    /// <exception cref="InvalidDataException">A row's length is not a whole number of contexts, or holds NaN / infinity.</exception>
    /// <exception cref="ArgumentException">The input has no rows.</exception>
    public static IEnumerable<TrainingRow> Contexts(IDataView data, DataViewSchema.Column column, int tokens, int width, CancellationToken cancellation)
    {
        int perContext = tokens * width;
        long count = 0;
        using (var cursor = data.GetRowCursor([column]))
        {
            var get = cursor.GetGetter<VBuffer<float>>(column);
            VBuffer<float> buffer = default;
            while (cursor.MoveNext())
            {
                cancellation.ThrowIfCancellationRequested();
                get(ref buffer);
                if (buffer.Length == 0 || buffer.Length % perContext != 0)
                    throw new InvalidDataException($"Row {cursor.Position}: context column '{column.Name}' has {buffer.Length} values; expected a positive multiple of {tokens} x {width} = {perContext} (one [T, D] context per caption).");
                var row = new float[buffer.Length];
                buffer.CopyTo(row);
                foreach (float v in row)
                {
                    if (!float.IsFinite(v)) throw new InvalidDataException($"Row {cursor.Position}: context column '{column.Name}' holds {v}.");
                }
                count++;
                yield return new TrainingRow(row, -1);
            }
        }
        if (count == 0) throw new ArgumentException("The training data has no rows.");
    }
}
