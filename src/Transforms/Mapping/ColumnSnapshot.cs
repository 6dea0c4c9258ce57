// Deep copies of pass-through column values for the rows buffered in a mini-batch: an input cursor's getters reuse
// their buffers, so a value must be copied before the cursor moves on.
using Microsoft.ML;
using Microsoft.ML.Data;

namespace UViT.MLNet.Transforms.Mapping;

internal abstract class ColumnSnapshot
{
    public abstract void Capture();
    public abstract void Clear();
    public abstract Delegate Getter(Func<int> rowInBuffer);

    /// <summary>A snapshot of <paramref name="column"/> of <paramref name="row"/>, typed by the column's raw type.</summary>
    public static ColumnSnapshot For(DataViewRow row, DataViewSchema.Column column)
    {
        var method = typeof(ColumnSnapshot).GetMethod(nameof(Create), System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static)!;
        var rawType = column.Type.RawType;
        if (rawType.IsGenericType && rawType.GetGenericTypeDefinition() == typeof(VBuffer<>))
        {
            var vectorMethod = typeof(ColumnSnapshot).GetMethod(nameof(CreateVector), System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static)!;
            return (ColumnSnapshot)vectorMethod.MakeGenericMethod(rawType.GetGenericArguments()[0]).Invoke(null, [row, column])!;
        }
        return (ColumnSnapshot)method.MakeGenericMethod(rawType).Invoke(null, [row, column])!;
    }

    private static ColumnSnapshot Create<T>(DataViewRow row, DataViewSchema.Column column) => new Scalar<T>(row.GetGetter<T>(column));
    private static ColumnSnapshot CreateVector<T>(DataViewRow row, DataViewSchema.Column column) => new Vector<T>(row.GetGetter<VBuffer<T>>(column));

    private sealed class Scalar<T>(ValueGetter<T> source) : ColumnSnapshot
    {
        private readonly List<T> _values = [];
        public override void Capture() { T value = default!; source(ref value); _values.Add(value); }
        public override void Clear() => _values.Clear();
        public override Delegate Getter(Func<int> rowInBuffer) => (ValueGetter<T>)((ref T value) => value = _values[rowInBuffer()]);
    }

    private sealed class Vector<T>(ValueGetter<VBuffer<T>> source) : ColumnSnapshot
    {
        private readonly List<VBuffer<T>> _values = [];
        public override void Capture()
        {
            VBuffer<T> value = default, copy = default;
            source(ref value);
            value.CopyTo(ref copy);
            _values.Add(copy);
        }
        public override void Clear() => _values.Clear();
        public override Delegate Getter(Func<int> rowInBuffer) => (ValueGetter<VBuffer<T>>)((ref VBuffer<T> value) => _values[rowInBuffer()].CopyTo(ref value));
    }
}
