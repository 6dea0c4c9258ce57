// The yardstick of the model cases: this process's fp32 GEMM rate, sampled before and after every timed model step so that
// the machine's changing speed (clock, other processes) is measured in the same moments as the step it is compared with.
using System.Diagnostics;
using TorchSharp;
using static TorchSharp.torch;

namespace UViT.MLNet.Cli.Bench;

/// <summary>1024x1024 fp32 matmuls for about a second; <see cref="Sample"/> records one GFLOP/s reading per call.</summary>
internal sealed class GemmYardstick : IDisposable
{
    private const int Size = 1024, Reps = 6;   // ~0.1 s per burst at 130 GFLOP/s
    private const double SampleSeconds = 1.0;
    private readonly Tensor _a, _b;
    private readonly bool _cuda;
    private readonly List<double> _readings = [], _cpuReadings = [];

    /// <summary>fp32 operands on <paramref name="device"/> (the model cases' device: the yardstick measures what they run on).</summary>
    public GemmYardstick(Device device)
    {
        _a = randn(Size, Size, device: device);
        _b = randn(Size, Size, device: device);
        _cuda = device.type == DeviceType.CUDA;
        for (int i = 0; i < 3; i++) matmul(_a, _b).Dispose();   // warm-up: thread pool, caches, CUDA context
        Synchronize();
    }

    // CUDA kernels run asynchronously: wait for them before reading the clock.
    private void Synchronize()
    {
        if (_cuda) TorchSharp.torch.cuda.synchronize();
    }

    /// <summary>Times one burst and records its GFLOP/s.</summary>
    public double Sample()
    {
        double cpu = CpuSeconds();
        var clock = Stopwatch.StartNew();
        int reps = 0;
        do   // at least Reps matmuls and at least SampleSeconds: a longer window averages over other processes' bursts
        {
            for (int i = 0; i < Reps; i++) matmul(_a, _b).Dispose();
            Synchronize();
            reps += Reps;
        }
        while (clock.Elapsed.TotalSeconds < SampleSeconds);
        double gflop = 2.0 * Size * Size * Size * reps / 1e9;
        _readings.Add(gflop / clock.Elapsed.TotalSeconds);
        _cpuReadings.Add(gflop / Math.Max(1e-6, CpuSeconds() - cpu));
        return _readings[^1];
    }

    /// <summary>Readings since construction or the last <see cref="Reset"/>.</summary>
    public Spread Readings => new(_readings);

    /// <summary>
    /// The same bursts per CPU-second of this process (all its threads): on a machine shared with other busy processes the
    /// share of the cores this process gets varies from moment to moment, and a 0.1 s burst and a 30 s step see different
    /// shares; work per CPU-second does not depend on the share. A second figure, beside the wall-clock one, not instead of it.
    /// </summary>
    public Spread CpuReadings => new(_cpuReadings);

    public void Reset()
    {
        _readings.Clear();
        _cpuReadings.Clear();
    }

    /// <summary>CPU time of this process so far (user + system, all threads).</summary>
    public static double CpuSeconds()
    {
        using var self = Process.GetCurrentProcess();
        return self.TotalProcessorTime.TotalSeconds;
    }

    /// <summary>
    /// Times <paramref name="runs"/> calls of <paramref name="work"/>, with a GEMM sample before the first and after each,
    /// starting from fresh readings: the spread of the run times and of the GEMM readings taken around them.
    /// </summary>
    public (Spread Seconds, Spread Gemm, Spread CpuSeconds, Spread GemmPerCpuSecond) Interleave(int runs, Action work)
    {
        Reset();
        Sample();
        var seconds = new List<double>();
        var cpuSeconds = new List<double>();
        for (int i = 0; i < runs; i++)
        {
            double cpu = CpuSeconds();
            var clock = Stopwatch.StartNew();
            work();
            seconds.Add(clock.Elapsed.TotalSeconds);
            cpuSeconds.Add(CpuSeconds() - cpu);
            Sample();
        }
        return (new Spread(seconds), Readings, new Spread(cpuSeconds), CpuReadings);
    }

    public void Dispose()
    {
        _a.Dispose();
        _b.Dispose();
    }
}
