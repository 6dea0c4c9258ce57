// Sinusoidal timestep embedding of the official U-ViT code (libs/uvit.py, `timestep_embedding`, from GLIDE/ADM).
using System.Collections.Concurrent;
using static TorchSharp.torch;

namespace UViT.MLNet.Core.Networks;

/// <summary>The sinusoidal embedding U-ViT turns its time input into a token with.</summary>
public static class TimestepEmbedding
{
    private static readonly ConcurrentDictionary<(long Half, double MaxPeriod), float[]> FrequencyTables = new();

    /// <summary>
    /// <c>half = dim / 2; freqs = exp(-ln(10000) * arange(half) / half); emb = cat(cos(t freqs), sin(t freqs))</c> -
    /// cos first; an odd <paramref name="dim"/> gets one zero column appended. Computed in float32 as the official code.
    /// </summary>
    /// <param name="timesteps">[B] time inputs (any float or integer dtype; 999 t or n as the schedule defines).</param>
    /// <param name="dim">Embedding width.</param>
    /// <param name="maxPeriod">Controls the minimum frequency (10000 in every official config).</param>
    /// <returns>[B, dim] float32 embedding on the device of <paramref name="timesteps"/>.</returns>
    public static Tensor Compute(Tensor timesteps, long dim, double maxPeriod = 10000)
    {
        if (timesteps.dim() != 1) throw new ArgumentException($"timesteps must be 1-D [B]; got shape [{string.Join(", ", timesteps.shape)}].");
        using var scope = NewDisposeScope();
        long half = dim / 2;
        var freqs = tensor(Frequencies(half, maxPeriod), device: timesteps.device);                         // [half]
        var args = timesteps.to(ScalarType.Float32).unsqueeze(1) * freqs.unsqueeze(0);                    // [B, half]
        var embedding = cat([cos(args), sin(args)], dim: -1);                                              // [B, 2 half]
        if (dim % 2 == 1)
            embedding = cat([embedding, zeros_like(embedding[.., ..1])], dim: -1);                         // [B, dim]
        return embedding.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// <c>exp(-ln(maxPeriod) * k / half)</c> for k &lt; half, bit-identical to PyTorch's float32 CPU result.
    /// </summary>
    /// <remarks>
    /// Why not <c>torch.exp</c>: the time input reaches 1000, so a one-ulp difference in a frequency moves the embedding
    /// by up to 6e-5 (60x the fixtures' 1e-6), and libtorch builds differ by one ulp here depending on which vector kernel
    /// they dispatch to. The official outputs were made with PyTorch's vectorized float exp, SLEEF's <c>expf_u10</c> with
    /// FMA: a Cody-Waite reduction by ln 2, a degree-6 minimax polynomial, and a last step <c>1 + fma(s*s, u, s)</c>.
    /// Evaluating that same scheme here gives the same bits on every machine and at every width: it equals PyTorch 1.13's
    /// <c>torch.exp</c> (Debian python3-torch, SLEEF, AVX2 kernels) bit for bit at every half width 1..600, 768, 1024 and
    /// 1152 (measured; PyTorch applies the vector kernel to the tail too, so the split of a row does not matter). Folding
    /// the 1 into the fused step instead (<c>fma(s*s, u, s + 1)</c>) rounds about one value in five differently, which
    /// moves the embedding by up to 6e-5 at most widths. libtorch 2.10's own exp (TorchSharp, AVX-512 machine) differs from
    /// SLEEF in about one value in ten, hence this table.
    /// The argument is formed in float32 exactly as <c>-math.log(max_period) * arange(half, float32) / half</c>.
    /// </remarks>
    public static float[] Frequencies(long half, double maxPeriod = 10000) => FrequencyTables.GetOrAdd((half, maxPeriod), key =>
    {
        float scale = (float)-Math.Log(key.MaxPeriod);
        var table = new float[key.Half];
        for (int k = 0; k < table.Length; k++) table[k] = ExpF(scale * k / key.Half);
        return table;
    });

    // float32 exp as SLEEF's expf_u10 (FMA build): x = q ln2 + s with |s| <= ln2/2 (ln2 split in a high part exact in
    // float and a low correction), exp(s) = 1 + s + s^2 P(s) with a minimax P, then scaled by 2^q. Accurate to 1 ulp;
    // deterministic in .NET's float arithmetic (every step is one IEEE operation or one fused multiply-add).
    private static float ExpF(float x)
    {
        const float InvLn2 = 1.44269504088896341f, Ln2High = 0.693145751953125f, Ln2Low = 1.428606765330187045e-06f;
        int q = (int)MathF.Round(x * InvLn2, MidpointRounding.ToEven);
        float s = MathF.FusedMultiplyAdd(q, -Ln2High, x);
        s = MathF.FusedMultiplyAdd(q, -Ln2Low, s);
        float u = 0.000198527617612853646278381f;
        u = MathF.FusedMultiplyAdd(u, s, 0.00139304355252534151077271f);
        u = MathF.FusedMultiplyAdd(u, s, 0.00833336077630519866943359f);
        u = MathF.FusedMultiplyAdd(u, s, 0.0416664853692054748535156f);
        u = MathF.FusedMultiplyAdd(u, s, 0.166666671633720397949219f);
        u = MathF.FusedMultiplyAdd(u, s, 0.5f);
        u = 1.0f + MathF.FusedMultiplyAdd(s * s, u, s);
        return x < -104f ? 0f : x > 104f ? float.PositiveInfinity : MathF.ScaleB(u, q);
    }
}
