// Tensor arithmetic with .NET numbers that is safe while other threads allocate.
//
// TorchSharp 0.107 turns every .NET number passed where libtorch takes a Scalar - `t * 0.5`, `t.add_(1.0)`, `1 - t`, and
// even the alpha = 1 inside `a + b` and `a.add_(b)` - into a Scalar object that nobody disposes. Once the native call has
// its handle, the object is garbage: a collection started by another thread during the call lets the finalizer free the
// native scalar while libtorch still reads it (seen as "Expected false to be true ... toFloat" after 26 minutes of a soak;
// docs/reliability.md). The methods here hold every Scalar until the native call has returned - `One` in a static field,
// the others in a `using` - and give the same bits as TorchSharp's operators (same libtorch kernels, same Scalar types).
// KeptScalarTests scans the library's IL so that no implicit Scalar comes back.
using TorchSharp;
using static TorchSharp.torch;

namespace UViT.MLNet.Core.Runtime;

/// <summary>
/// Tensor arithmetic with .NET numbers whose Scalars live until libtorch has finished with them (TorchSharp's operators and
/// one-argument <c>add</c> create Scalars that a finalizer may free mid-call). Integer arguments stay integer Scalars, so
/// integer tensors keep their type exactly as with the operators.
/// </summary>
public static class KeptScalars
{
    /// <summary>The alpha of a plain addition; a static field, so never finalized.</summary>
    public static readonly Scalar One = 1.ToScalar();

    /// <summary><c>left + right</c>.</summary>
    public static Tensor Plus(this Tensor left, Tensor right) => left.add(right, One);

    /// <summary><c>left += right</c> in place.</summary>
    public static Tensor PlusInPlace(this Tensor left, Tensor right) => left.add_(right, One);

    /// <summary><c>left + right</c>.</summary>
    public static Tensor Plus(this Tensor left, double right) => Holding(right.ToScalar(), value => left.add(value, One));

    /// <summary><c>left + right</c> with an integer Scalar (integer tensors stay integer).</summary>
    public static Tensor Plus(this Tensor left, long right) => Holding(right.ToScalar(), value => left.add(value, One));

    /// <summary><c>left += right</c> in place.</summary>
    public static Tensor PlusInPlace(this Tensor left, double right) => Holding(right.ToScalar(), value => left.add_(value, One));

    /// <summary><c>left - right</c>.</summary>
    public static Tensor Minus(this Tensor left, double right) => Holding(right.ToScalar(), left.sub);

    /// <summary><c>left - right</c> with an integer Scalar (integer tensors stay integer).</summary>
    public static Tensor Minus(this Tensor left, long right) => Holding(right.ToScalar(), left.sub);

    /// <summary><c>left - right</c> for a number on the left, computed as TorchSharp's operator does: <c>(-right) + left</c>.</summary>
    public static Tensor SubtractedFrom(this Tensor right, double left)
    {
        using var negated = right.negative();
        return Holding(left.ToScalar(), value => negated.add(value, One));
    }

    /// <summary><c>left * right</c>.</summary>
    public static Tensor Times(this Tensor left, double right) => Holding(right.ToScalar(), left.mul);

    /// <summary><c>left * right</c> with an integer Scalar (integer tensors stay integer).</summary>
    public static Tensor Times(this Tensor left, long right) => Holding(right.ToScalar(), left.mul);

    /// <summary><c>left *= right</c> in place.</summary>
    public static Tensor TimesInPlace(this Tensor left, double right) => Holding(right.ToScalar(), left.mul_);

    /// <summary><c>left / right</c>.</summary>
    public static Tensor DividedBy(this Tensor left, double right) => Holding(right.ToScalar(), value => left.div(value));

    /// <summary><c>left / right</c> with an integer Scalar (as TorchSharp's operator with an integer: true division).</summary>
    public static Tensor DividedBy(this Tensor left, long right) => Holding(right.ToScalar(), value => left.div(value));

    /// <summary><c>t * t</c> as TorchSharp's <c>square()</c> computes it: <c>pow(2)</c>.</summary>
    public static Tensor Squared(this Tensor t) => Holding(2.ToScalar(), two => t.pow(two));

    /// <summary><c>t.clamp_min(min)</c>.</summary>
    public static Tensor AtLeast(this Tensor t, double min) => Holding(min.ToScalar(), low => t.clamp_min(low));

    /// <summary><c>t.clamp_max(max)</c>.</summary>
    public static Tensor AtMost(this Tensor t, double max) => Holding(max.ToScalar(), high => t.clamp_max(high));

    /// <summary><c>t.clamp(min, max)</c>.</summary>
    public static Tensor Clamped(this Tensor t, double min, double max) =>
        Holding(min.ToScalar(), low => Holding(max.ToScalar(), high => t.clamp(low, high)));

    /// <summary><c>t.clamp(min, max)</c> with integer bounds (integer tensors stay integer).</summary>
    public static Tensor Clamped(this Tensor t, long min, long max) =>
        Holding(min.ToScalar(), low => Holding(max.ToScalar(), high => t.clamp(low, high)));

    /// <summary>Runs <paramref name="operation"/> with <paramref name="value"/> and disposes it only after it has returned.</summary>
    private static Tensor Holding(Scalar value, Func<Scalar, Tensor> operation)
    {
        using (value) return operation(value);
    }
}
