// The MLContext settings ML.NET's own TorchSharp trainers honour (GpuDeviceId, FallbackToCpu, the seed), read for ours.
using System.Reflection;
using Microsoft.ML.Runtime;
using UViT.MLNet.Core.Runtime;

namespace UViT.MLNet.Transforms.Persistence;

/// <summary>
/// The device and seed an MLContext asks for. ML.NET keeps them on an internal interface (IHostEnvironmentInternal) that every
/// MLContext and host implements; a component built without one (a bare IHostEnvironment) gets the CPU and no seed.
/// </summary>
public static class ContextSettings
{
    private static readonly Type? Internal = typeof(IHostEnvironment).Assembly.GetType("Microsoft.ML.Runtime.IHostEnvironmentInternal");

    /// <summary>
    /// <paramref name="requested"/> when given; else the MLContext's choice, as ML.NET's TorchSharp trainers make it: GpuDeviceId
    /// null gives "cpu"; set, "cuda:N" when that CUDA device is usable, else "cpu" if FallbackToCpu, else a clear error.
    /// </summary>
    /// <exception cref="InvalidOperationException">GpuDeviceId names an unusable device and FallbackToCpu is false.</exception>
    public static string Device(IHostEnvironment environment, string? requested = null)
    {
        if (!string.IsNullOrWhiteSpace(requested)) return requested;
        if (Read<int?>(environment, "GpuDeviceId") is not { } gpu) return "cpu";
        string cuda = $"cuda:{gpu}";
        try
        {
            TorchRuntime.ParseDevice(cuda);
            if (gpu >= 0 && gpu < TorchSharp.torch.cuda.device_count()) return cuda;
        }
        catch (Exception e) when (e is TorchRuntimeException or ArgumentException or TypeInitializationException or DllNotFoundException)
        {
            if (Read<bool>(environment, "FallbackToCpu")) return "cpu";
            throw new InvalidOperationException($"MLContext.GpuDeviceId is {gpu}, but CUDA cannot be used here ({e.Message}). " +
                                                "Set mlContext.FallbackToCpu = true to use the CPU instead, or GpuDeviceId = null.", e);
        }
        if (Read<bool>(environment, "FallbackToCpu")) return "cpu";
        throw new InvalidOperationException($"MLContext.GpuDeviceId is {gpu}, but this machine has {TorchSharp.torch.cuda.device_count()} CUDA device(s). " +
                                            "Set mlContext.FallbackToCpu = true to use the CPU instead, or GpuDeviceId = null.");
    }

    /// <summary>The MLContext's seed (<c>new MLContext(seed: 1)</c>), or null when it was made without one.</summary>
    public static int? Seed(IHostEnvironment environment) => Read<int?>(environment, "Seed");

    private static T? Read<T>(IHostEnvironment environment, string name) =>
        Internal is not null && Internal.IsInstanceOfType(environment) && Internal.GetProperty(name, BindingFlags.Instance | BindingFlags.Public) is { } property
            ? (T?)property.GetValue(environment) : default;
}
