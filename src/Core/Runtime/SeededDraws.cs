// Seeded random draws for tensors on any device. TorchSharp 0.107 creates every Generator on the CPU - the native
// THSGenerator_new ignores its device argument, although Generator.device reports the device asked for - and libtorch
// refuses a CPU generator for a CUDA tensor ("Expected a 'cuda' device type for generator but found 'cpu'", seen on an
// H200). So seeded draws happen on the CPU and are copied to the device; as a bonus, a seed gives the same numbers on
// every device.
using TorchSharp;
using static TorchSharp.torch;

namespace UViT.MLNet.Core.Runtime;

/// <summary>Seeded draws that work whatever device the result lives on.</summary>
public static class SeededDraws
{
    /// <summary>
    /// z ~ N(0, I) of <paramref name="shape"/> on <paramref name="device"/>: drawn on the CPU from <paramref name="generator"/>
    /// and copied, or on the device from its global generator when <paramref name="generator"/> is null. The caller owns it.
    /// </summary>
    public static Tensor Randn(long[] shape, ScalarType dtype, Device device, Generator? generator)
    {
        if (generator is null || device.type == DeviceType.CPU) return randn(shape, dtype: dtype, device: device, generator: generator);
        using var onCpu = randn(shape, dtype: dtype, device: CPU, generator: generator);
        return onCpu.to(device);
    }

    /// <summary>
    /// Runs an in-place seeded <paramref name="fill"/> (uniform_, normal_, ...) on <paramref name="target"/>: directly on a CPU
    /// tensor or without a generator, else on a CPU tensor of the same shape and dtype whose values are then copied in.
    /// </summary>
    public static void Fill(Tensor target, Generator? generator, Action<Tensor> fill)
    {
        if (generator is null || target.device.type == DeviceType.CPU)
        {
            fill(target);
            return;
        }
        using var noGrad = no_grad();
        using var onCpu = empty(target.shape, dtype: target.dtype, device: CPU);
        fill(onCpu);
        target.copy_(onCpu);
    }
}
