// Where samplers get their Gaussian noise: the initial x_T and any per-step noise (Euler-Maruyama, DDIM with eta > 0).
// A per-row seeded source makes a sample independent of the batch it is generated in.
using UViT.MLNet.Core.Runtime;
using static TorchSharp.torch;

namespace UViT.MLNet.Core.Diffusion;

/// <summary>A stream of standard normal tensors, one draw per call, in the order a sampler asks for them.</summary>
public interface ISamplerNoise
{
    /// <summary>Draws z ~ N(0, I) with the shape, dtype and device of <paramref name="like"/>; the caller owns it.</summary>
    /// <param name="like">[B, C, H, W]</param>
    /// <returns>[B, C, H, W]</returns>
    Tensor Next(Tensor like);
}

/// <summary>Draws from torch's global generator (or one given generator), like <c>torch.randn_like</c>.</summary>
public sealed class GeneratorNoise(Generator? generator = null) : ISamplerNoise
{
    /// <inheritdoc/>
    public Tensor Next(Tensor like) => SeededDraws.Randn(like.shape, like.dtype, like.device, generator); // [B, C, H, W]
}

/// <summary>
/// One generator per batch row, seeded by that row's seed: row i's initial noise and every later draw depend only on
/// seeds[i], so an image is bit-identical whatever batch (size, position, neighbours) it is generated in.
/// </summary>
public sealed class RowSeededNoise : ISamplerNoise, IDisposable
{
    private readonly Generator[] _generators;

    /// <summary>The seeds, one per row.</summary>
    public IReadOnlyList<long> Seeds { get; }

    /// <summary>Creates the generators, on the CPU: CPU draws are the same on every machine, and TorchSharp has no other.</summary>
    public RowSeededNoise(IReadOnlyList<long> seeds)
    {
        if (seeds.Count == 0) throw new ArgumentException("At least one seed is needed.", nameof(seeds));
        Seeds = seeds.ToArray();
        _generators = seeds.Select(seed => new Generator(unchecked((ulong)seed))).ToArray();
    }

    /// <summary>The initial noise x_T: [rows, ..sampleShape] (e.g. sampleShape = [C, H, W]).</summary>
    /// <returns>[B, C, H, W] float32 on <paramref name="device"/> (default CPU).</returns>
    public Tensor InitialNoise(long[] sampleShape, ScalarType dtype = ScalarType.Float32, Device? device = null) =>
        Draw(sampleShape, dtype, device ?? CPU);

    /// <inheritdoc/>
    public Tensor Next(Tensor like)
    {
        if (like.shape[0] != _generators.Length)
            throw new ArgumentException($"This noise source has {_generators.Length} row seeds but the batch has {like.shape[0]} rows.");
        return Draw(like.shape[1..], like.dtype, like.device);
    }

    private Tensor Draw(long[] sampleShape, ScalarType dtype, Device device)
    {
        using var scope = NewDisposeScope();
        var rows = _generators.Select(g => randn(sampleShape, dtype: dtype, device: CPU, generator: g)).ToArray(); // B x [C, H, W]
        return stack(rows, dim: 0).to(device).MoveToOuterDisposeScope();                                                // [B, C, H, W]
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        foreach (var generator in _generators) generator.Dispose();
    }
}

/// <summary>Replays recorded noise, e.g. the draws the official code made: draw k returns <c>recorded[k]</c>.</summary>
public sealed class RecordedNoise(Tensor recorded) : ISamplerNoise
{
    private int _next;

    /// <summary>How many draws have been made.</summary>
    public int Drawn => _next;

    /// <inheritdoc/>
    public Tensor Next(Tensor like)
    {
        if (_next >= recorded.shape[0]) throw new InvalidOperationException($"All {recorded.shape[0]} recorded draws were used.");
        using var draw = recorded[_next++];                       // [B, C, H, W]
        return draw.to(like.dtype, like.device).clone();          // [B, C, H, W]
    }
}
