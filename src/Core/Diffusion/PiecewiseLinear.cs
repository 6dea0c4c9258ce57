// Piecewise-linear interpolation with linear extrapolation, as the official DPM-Solver code's `interpolate_fn`
// (libs/dpm_solver_pp.py, github baofff/U-ViT) evaluates it for the discrete schedule.
using UViT.MLNet.Core.Runtime;
using static TorchSharp.torch;

namespace UViT.MLNet.Core.Diffusion;

/// <summary>y(x) on the segment of increasing knots that holds x; the first/last segment extends beyond the ends.</summary>
internal static class PiecewiseLinear
{
    /// <summary>
    /// For each x: with j = the number of knots at or below x, the segment is (j-1, j), clamped to (0, 1) and (K-2, K-1), and
    /// y = y_start + (x - x_start) (y_end - y_start) / (x_end - x_start), in this float operation order (the official one).
    /// </summary>
    /// <param name="x">[B] query points.</param>
    /// <param name="knots">[K] increasing knots, K &gt;= 2.</param>
    /// <param name="values">[K] values at the knots.</param>
    /// <returns>[B] interpolated values (dtype of <paramref name="values"/>).</returns>
    public static Tensor Interpolate(Tensor x, Tensor knots, Tensor values)
    {
        using var scope = NewDisposeScope();
        long k = knots.shape[0];
        var query = x.to(knots.dtype).contiguous();                          // [B]
        var below = searchsorted(knots, query, right: true);                 // [B] knots at or below x
        var start = below.Minus(1).Clamped(0, k - 2);                        // [B]
        var end = start.Plus(1);                                             // [B]
        var startX = knots.index_select(0, start);                           // [B]
        var endX = knots.index_select(0, end);                               // [B]
        var startY = values.index_select(0, start);                          // [B]
        var endY = values.index_select(0, end);                              // [B]
        var y = startY.Plus((query - startX) * (endY - startY) / (endX - startX)); // [B]
        return y.MoveToOuterDisposeScope();
    }
}
