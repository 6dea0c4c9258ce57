using static TorchSharp.torch;

namespace UViT.MLNet.Core.Diffusion;

/// <summary>
/// One batch with every random draw of the training loss made (<see cref="NoisePredictionLoss.Noise"/>): what the network
/// sees and what it should predict. Evaluating it (<see cref="NoisePredictionLoss.Loss"/>) draws nothing more.
/// </summary>
/// <param name="NoisyInput">[B, C, H, W] x_t = alpha x_0 + sigma eps.</param>
/// <param name="NetworkTime">[B] the time the network is given (continuous t or the discrete step).</param>
/// <param name="Labels">[B] labels after guidance dropout (class models), else null.</param>
/// <param name="Context">[B, T, D] contexts after guidance dropout (text models), else null.</param>
/// <param name="Noise">[B, C, H, W] eps, the target.</param>
/// <param name="MinSnrWeights">[B] min(SNR, gamma) / SNR per sample with Min-SNR weighting, else null.</param>
public sealed record NoisedBatch(Tensor NoisyInput, Tensor NetworkTime, Tensor? Labels, Tensor? Context, Tensor Noise, Tensor? MinSnrWeights) : IDisposable
{
    /// <summary>The tensors the batch holds.</summary>
    public IEnumerable<Tensor> Tensors() =>
        new[] { NoisyInput, NetworkTime, Labels, Context, Noise, MinSnrWeights }.OfType<Tensor>();

    /// <summary>Disposes every tensor of the batch.</summary>
    public void Dispose()
    {
        foreach (var tensor in Tensors()) tensor.Dispose();
    }
}
