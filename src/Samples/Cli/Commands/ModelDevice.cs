using System.CommandLine;
using Microsoft.ML;
using UViT.MLNet.Core.Runtime;
using UViT.MLNet.Transforms.Persistence;

namespace UViT.MLNet.Cli.Commands;

/// <summary>
/// The device a command that loads a model zip runs it on. Zips store no device: the loaders take the loading MLContext's
/// GpuDeviceId (as ML.NET's TorchSharp trainers do), so <c>--device</c> becomes that setting, with no silent CPU fallback.
/// </summary>
internal static class ModelDevice
{
    /// <summary>The <c>--device</c> option (default cpu).</summary>
    public static Option<string> Create(string description = "Where the model runs: cpu, cuda or cuda:N.") =>
        new("--device") { Description = description, DefaultValueFactory = _ => "cpu" };

    /// <summary>An MLContext (seed 0, UViT.MLNet registered) whose loaded models run on <paramref name="device"/>.</summary>
    /// <exception cref="ArgumentException">The device name is not cpu, cuda or cuda:N, or names a CUDA device this machine lacks.</exception>
    /// <exception cref="TorchRuntimeException">CUDA was asked for but this build or machine has none.</exception>
    public static MLContext Context(string device)
    {
        var parsed = TorchRuntime.ParseDevice(device);
        var mlContext = new MLContext(seed: 0).RegisterUViT();
        if (parsed.type == TorchSharp.DeviceType.CUDA)
        {
            int index = Math.Max(0, parsed.index), available = TorchSharp.torch.cuda.device_count();
            if (index >= available) throw new ArgumentException($"--device {device}: this machine has {available} CUDA device(s) (cuda:0 to cuda:{available - 1}).");
            mlContext.GpuDeviceId = index;
            mlContext.FallbackToCpu = false;
        }
        return mlContext;
    }
}
