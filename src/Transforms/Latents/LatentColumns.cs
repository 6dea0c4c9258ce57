// Schema checks of the latent transforms: a wrong input fails when the pipeline is built, with the column name, the type
// found and what was expected, instead of a libtorch shape error when the first batch is read.
using Microsoft.ML;
using Microsoft.ML.Data;

namespace UViT.MLNet.Transforms.Latents;

internal static class LatentColumns
{
    /// <summary>The [C, H, W] of a Vector&lt;Single, C, H, W&gt; column with known dimensions, or an exception naming the column.</summary>
    /// <param name="role">How the column is described in errors ("Image", "Latent").</param>
    public static (int Channels, int Height, int Width) Planar(DataViewSchema schema, string column, string role)
    {
        var found = schema.GetColumnOrNull(column)
            ?? throw new ArgumentOutOfRangeException(nameof(schema), $"{role} column '{column}' not found. Columns present: {string.Join(", ", schema.Select(c => c.Name))}.");
        if (found.Type is not VectorDataViewType vector || vector.ItemType != NumberDataViewType.Single)
            throw new ArgumentOutOfRangeException(nameof(schema), $"{role} column '{column}' must be a Vector<Single, C, H, W>; found {found.Type}.");
        var dims = vector.Dimensions;
        if (dims.Length != 3 || dims.Any(d => d <= 0))
            throw new ArgumentOutOfRangeException(nameof(schema), $"{role} column '{column}' must have known dimensions [C, H, W]; found {found.Type} " +
                                                                  $"with dimensions [{string.Join(", ", dims)}]. Use ExtractPixels, or declare them with VectorType(C, H, W).");
        return (dims[0], dims[1], dims[2]);
    }

    /// <summary>An optional integer seed column, or an exception naming its type.</summary>
    public static DataViewSchema.Column? Seed(DataViewSchema schema, string? column)
    {
        if (column is null) return null;
        var found = schema.GetColumnOrNull(column)
            ?? throw new ArgumentOutOfRangeException(nameof(schema), $"Seed column '{column}' not found. Columns present: {string.Join(", ", schema.Select(c => c.Name))}.");
        var raw = found.Type.RawType;
        if (raw != typeof(int) && raw != typeof(long) && raw != typeof(uint) && raw != typeof(ulong))
            throw new ArgumentOutOfRangeException(nameof(schema), $"Seed column '{column}' must be an integer column (Int32, Int64, UInt32, UInt64); found {found.Type}.");
        return found;
    }

    /// <summary>Reads an integer column as long (UInt64 seeds wrap around).</summary>
    public static Func<long> IntegerReader(DataViewRow row, DataViewSchema.Column column)
    {
        var raw = column.Type.RawType;
        if (raw == typeof(int)) { var g = row.GetGetter<int>(column); return () => { int v = 0; g(ref v); return v; }; }
        if (raw == typeof(uint)) { var g = row.GetGetter<uint>(column); return () => { uint v = 0; g(ref v); return v; }; }
        if (raw == typeof(ulong)) { var g = row.GetGetter<ulong>(column); return () => { ulong v = 0; g(ref v); return unchecked((long)v); }; }
        var l = row.GetGetter<long>(column);
        return () => { long v = 0; l(ref v); return v; };
    }

    /// <summary>A reader copying the current row's vector into a new array of <paramref name="length"/> values.</summary>
    public static Func<float[]> VectorReader(DataViewRow row, DataViewSchema.Column column, int length)
    {
        var getter = row.GetGetter<VBuffer<float>>(column);
        VBuffer<float> buffer = default;
        return () =>
        {
            getter(ref buffer);
            if (buffer.Length != length)
                throw new InvalidDataException($"Row {row.Position}: column '{column.Name}' has {buffer.Length} values; expected {length}.");
            var values = new float[length];
            buffer.CopyTo(values);
            return values;
        };
    }

    /// <summary>Estimator-time check: <paramref name="column"/> is present and a vector of Single.</summary>
    public static void CheckShape(SchemaShape inputSchema, string column, string role)
    {
        var found = inputSchema.FirstOrDefault(c => c.Name == column);
        if (found.Name is null)
            throw new ArgumentOutOfRangeException(nameof(inputSchema), $"{role} column '{column}' not found. Columns present: {string.Join(", ", inputSchema.Select(c => c.Name))}.");
        if (found.Kind != SchemaShape.Column.VectorKind.Vector || found.ItemType != NumberDataViewType.Single)
            throw new ArgumentOutOfRangeException(nameof(inputSchema), $"{role} column '{column}' must be a known-size Vector<Single, C, H, W>; found {found.Kind} of {found.ItemType}.");
    }
}
