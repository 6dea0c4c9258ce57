// Runs a per-sample network over a large batch in slices, so peak memory depends on the slice size, not the batch.
using static TorchSharp.torch;

namespace UViT.MLNet.Core.Autoencoder;

internal static class MicroBatching
{
    /// <summary>
    /// <c>cat([f(x[i:i+size]) for i in 0..B step size])</c>; each slice runs in its own dispose scope, so only its
    /// output survives. With one slice, <paramref name="f"/> runs on <paramref name="x"/> directly.
    /// </summary>
    public static Tensor Map(Tensor x, int size, Func<Tensor, Tensor> f)
    {
        long b = x.shape[0];
        if (b <= size) return f(x);
        var outputs = new List<Tensor>();
        try
        {
            for (long start = 0; start < b; start += size)
            {
                using var scope = NewDisposeScope();
                var slice = x.narrow(0, start, Math.Min(size, b - start));  // [b_i, ...]
                outputs.Add(f(slice).MoveToOuterDisposeScope());            // [b_i, ...]
            }
            return cat(outputs, dim: 0);                                     // [B, ...]
        }
        finally
        {
            foreach (var output in outputs) output.Dispose();
        }
    }
}
