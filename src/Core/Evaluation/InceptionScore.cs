// Inception Score, IS = exp(E_x KL(p(y|x) || p(y))), averaged over splits (Salimans et al., 2016).
// Provenance and conventions: the original improved-GAN inception_score.py (OpenAI) and torch-fidelity's isc.py, which
// agree on: softmax over all 1008 logits of the 2015 graph, taken *without* the fc bias (the original reads the
// `softmax/logits/MatMul` op; torch-fidelity names these `logits_unbiased`; here FidInceptionV3.UnbiasedLogits);
// 10 splits with boundaries i*N/10 (integer division); the score is the mean over splits and the spread np.std (population,
// ddof 0). Choice: no shuffling before splitting, as the original code does; torch-fidelity shuffles with a fixed NumPy seed
// by default, which changes only the spread and the last digits of the mean. Computed in float64.
using UViT.MLNet.Core.Runtime;
using static TorchSharp.torch;

namespace UViT.MLNet.Core.Evaluation;

/// <summary>Inception Score from classifier logits.</summary>
public static class InceptionScore
{
    /// <summary>The split count of the original code and of published scores.</summary>
    public const int DefaultSplits = 10;

    /// <summary>IS mean and standard deviation over <paramref name="splits"/> consecutive splits.</summary>
    /// <param name="logits">[N, C] logits (use <see cref="FidInceptionV3.UnbiasedLogits"/> for published-score conventions), N &gt;= splits.</param>
    public static (double Mean, double StandardDeviation) Compute(Tensor logits, int splits = DefaultSplits)
    {
        if (logits.dim() != 2) throw new ArgumentException($"Expected logits [N, C]; got [{string.Join(", ", logits.shape)}].", nameof(logits));
        long n = logits.shape[0];
        if (splits < 1 || n < splits) throw new ArgumentException($"Need at least one sample per split: {n} samples, {splits} splits.", nameof(splits));
        TorchRuntime.EnsureLoaded();
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var logP = logits.detach().to(ScalarType.Float64).log_softmax(1);    // [N, C]
        var p = logP.exp();                                                  // [N, C]
        var scores = new double[splits];
        for (int i = 0; i < splits; i++)
        {
            long start = i * n / splits, end = (i + 1) * n / splits;
            var pPart = p.narrow(0, start, end - start);                      // [n_i, C]
            var logPPart = logP.narrow(0, start, end - start);                // [n_i, C]
            var logQ = pPart.mean([0L], keepdim: true).log();                // [1, C], log of the marginal p(y)
            var kl = (pPart * (logPPart - logQ)).sum(1);                     // [n_i], KL(p(y|x) || p(y))
            scores[i] = Math.Exp(kl.mean().item<double>());
        }
        double mean = scores.Average();
        double std = Math.Sqrt(scores.Sum(s => (s - mean) * (s - mean)) / splits);
        return (mean, std);
    }
}
