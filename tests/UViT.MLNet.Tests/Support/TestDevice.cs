using UViT.MLNet.Core.Runtime;
using static TorchSharp.torch;

namespace UViT.MLNet.Tests.Support;

/// <summary>
/// The device the device-aware parity tests run on: <c>UVIT_TEST_DEVICE</c> ("cpu", "cuda", "cuda:N"; default cpu).
/// scripts/gpu-check.sh sets it to run the parity tests on a GPU (docs/how-to/gpu.md).
/// </summary>
internal static class TestDevice
{
    public static Device Get() => TorchRuntime.ParseDevice(Environment.GetEnvironmentVariable("UVIT_TEST_DEVICE"));
}
