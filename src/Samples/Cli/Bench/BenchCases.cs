// The fixed benchmark cases of `uvit bench` (docs/benchmarks.md): each returns one JSON-ready record.
using System.Diagnostics;
using Microsoft.ML;
using TorchSharp;
using UViT.MLNet.Core.Generation;
using UViT.MLNet.Core.Networks;
using UViT.MLNet.Core.Runtime;
using UViT.MLNet.Core.Training;
using UViT.MLNet.Estimators;
using UViT.MLNet.Samples;
using static TorchSharp.torch;

namespace UViT.MLNet.Cli.Bench;

internal static class BenchCases
{
    /// <summary>The yardstick alone: <paramref name="samples"/> GEMM bursts.</summary>
    public static Dictionary<string, object> Matmul(GemmYardstick gemm, int samples)
    {
        gemm.Reset();
        for (int i = 0; i < samples; i++) gemm.Sample();
        return new() { ["case"] = "matmul", ["size"] = 1024, ["gflops"] = gemm.Readings.ToJson(1) };
    }

    /// <summary>
    /// The figures every model case prints: seconds per timed unit, a rate per second, model GFLOP/s and its fraction of the
    /// GEMM figure of the same run (median over median), and the GEMM readings taken around the timed units.
    /// </summary>
    private static void AddTiming(Dictionary<string, object> record, Spread seconds, Spread gemm, double gflopPerUnit, double itemsPerUnit, string rateName,
                                  Spread? cpuSeconds = null, Spread? gemmPerCpuSecond = null)
    {
        if (cpuSeconds is not null && gemmPerCpuSecond is not null)
        {
            // the same ratio per CPU-second of this process (GemmYardstick.CpuReadings): insensitive to the share of the cores other processes take
            var perCpu = new Spread(cpuSeconds.Values.Select(t => gflopPerUnit / t));
            record["model_gflop_per_cpu_second"] = perCpu.ToJson(1);
            record["gemm_gflop_per_cpu_second"] = gemmPerCpuSecond.ToJson(1);
            record["fraction_of_gemm_per_cpu_second"] = Math.Round(perCpu.Median / gemmPerCpuSecond.Median, 3);
        }
        var gflops = new Spread(seconds.Values.Select(t => gflopPerUnit / t));
        record["seconds"] = seconds.ToJson(3);
        record[rateName] = new Spread(seconds.Values.Select(t => itemsPerUnit / t)).ToJson(3);
        record["model_gflops_per_second"] = gflops.ToJson(1);
        record["gemm_gflops_per_second"] = gemm.ToJson(1);
        record["fraction_of_gemm"] = Math.Round(gflops.Median / gemm.Median, 3);
    }

    /// <summary>Training throughput of the CIFAR-10 U-ViT-S/2 preset with the official recipe: <paramref name="steps"/> timed steps.</summary>
    public static Dictionary<string, object> Train(int batch, int steps, GemmYardstick gemm, Device device)
    {
        var preset = UViTPresets.Get("cifar10_uvit_small");
        using var session = new UViTTrainingSession(new UViTNetwork(preset.Config, device, seed: 0), TrainingRecipe.ForPreset(preset.Name), seed: 0);
        using var x = rand(batch, 3, 32, 32).TimesInPlace(2).PlusInPlace(-1.0); // [B, 3, 32, 32] on the CPU: TrainStep moves each batch to the network's device
        using (var few = x.slice(0, 0, 4, 1)) session.TrainStep(few);        // warm-up on 4 images: allocates the optimiser state at 1/8 the cost
        var (seconds, readings, cpu, cpuReadings) = gemm.Interleave(steps, () => session.TrainStep(x));
        var record = new Dictionary<string, object>
        {
            ["case"] = "train", ["preset"] = preset.Name, ["params"] = session.Network.ParameterCount, ["batch"] = batch, ["steps"] = steps,
            ["forward_gflops_per_image"] = Math.Round(preset.Config.ForwardGflops, 2), ["paper_gflops_per_image"] = Math.Round(preset.Config.ForwardGflops / 2, 2),
        };
        AddTiming(record, seconds, readings, 3 * preset.Config.ForwardGflops * batch, batch, "images_per_second", cpu, cpuReadings);
        return record;
    }

    /// <summary>Guided DPM-Solver++ sampling with a class-conditional U-ViT-S/2 on 4x32x32 latents (1001 classes, no final conv): <paramref name="runs"/> timed runs.</summary>
    public static Dictionary<string, object> Sample(int batch, int steps, int runs, GemmYardstick gemm, Device device, ScalarType dtype)
    {
        var config = new UViTConfig { ImageSize = 32, PatchSize = 2, InChannels = 4, EmbedDim = 512, Depth = 12, NumHeads = 8, NumClasses = 1001, Conv = false };
        var network = new UViTNetwork(config, device, dtype, seed: 0);
        using var generator = new UViTGenerator(network, network, NoiseScheduleKind.DiscreteSD, nullClass: 1000);   // one weight set is enough to time
        var settings = new SamplerSettings { Sampler = SamplerKind.DpmSolverPlusPlus, Steps = steps, GuidanceScale = 0.4 };
        var seeds = Enumerable.Range(0, batch).Select(i => (long)i).ToList();
        var labels = Enumerable.Range(0, batch).Select(i => (long)(i * 97 % 1000)).ToList();
        generator.Generate(seeds, labels, settings with { Steps = 1 }).Dispose();   // warm-up
        var (seconds, readings, cpu, cpuReadings) = gemm.Interleave(runs, () => generator.Generate(seeds, labels, settings).Dispose());
        var record = new Dictionary<string, object> { ["case"] = "sample", ["dtype"] = dtype.ToString(), ["batch"] = batch, ["steps"] = steps, ["guidance"] = 0.4, ["runs"] = runs };
        AddTiming(record, seconds, readings, config.ForwardGflops * 2 * batch * steps, batch, "images_per_second", cpu, cpuReadings);   // both guidance branches per evaluation
        return record;
    }

    /// <summary>
    /// Generation throughput of the MNIST default (the network the trainer picks for 28x28 digits, default sampler: DPM-Solver++
    /// 50 steps, unguided), batch <paramref name="batch"/>: <paramref name="runs"/> timed runs. Also the contention case's worker.
    /// </summary>
    public static Dictionary<string, object> MnistGenerate(int batch, int runs, GemmYardstick gemm, Device device, ScalarType dtype)
    {
        var config = UViTTrainerOptions.DefaultNetwork(1, 28, 11);
        using var session = new UViTTrainingSession(new UViTNetwork(config, device, dtype, seed: 0) { UseFusedAttention = device.type != DeviceType.CPU }, UViTTrainerOptions.ShortRunRecipe, 0, 10);
        using var generator = session.CreateGenerator();
        var settings = new SamplerSettings();
        var seeds = Enumerable.Range(0, batch).Select(i => (long)i).ToList();
        var labels = Enumerable.Range(0, batch).Select(i => (long)(i % 10)).ToList();
        generator.Generate(seeds, labels, settings with { Steps = 2 }).Dispose();   // warm-up
        var (seconds, readings, cpu, cpuReadings) = gemm.Interleave(runs, () => generator.Generate(seeds, labels, settings).Dispose());
        var record = new Dictionary<string, object> { ["case"] = "mnist_generate", ["dtype"] = dtype.ToString(), ["batch"] = batch, ["steps"] = settings.Steps, ["runs"] = runs };
        AddTiming(record, seconds, readings, config.ForwardGflops * batch * settings.Steps, batch, "images_per_second", cpu, cpuReadings);
        return record;
    }

    /// <summary>
    /// The MNIST default network (batch <paramref name="batch"/>) trained through the ML.NET trainer and through a bare
    /// <see cref="UViTTrainingSession"/> loop, measured two ways: the fixed cost of a Fit (median difference of five
    /// alternating pairs of 1-step runs) and end to end (<paramref name="pairs"/> alternating pairs of
    /// <paramref name="steps"/>-step runs: the median of the per-pair relative differences). Returns the pipeline record and
    /// the MNIST default's training speed (steps/s of the bare runs, with the GEMM readings taken between the runs).
    /// </summary>
    public static (Dictionary<string, object> Pipeline, Dictionary<string, object> MnistTrain) PipelineOverhead(IdxImageDataset digits, int steps, int batch, int pairs, GemmYardstick gemm)
    {
        var mlContext = new MLContext(seed: 0);
        var view = digits.ToDataView(mlContext);
        using var images = tensor(digits.Pixels.Select(p => p / 127.5f - 1).ToArray(), [digits.Count, 1, digits.Height, digits.Width]);
        using var labels = tensor(digits.Labels.Select(l => (long)l).ToArray());
        var config = UViTTrainerOptions.DefaultNetwork(1, digits.Height, digits.ClassCount + 1);

        double ThroughMLNet(int n)
        {
            var clock = Stopwatch.StartNew();
            var options = new UViTTrainerOptions { MaxSteps = n, BatchSize = batch, Attention = AttentionKernel.Plain };
            using (mlContext.Diffusion().Trainers.UViT(options).Fit(view)) { }
            return clock.Elapsed.TotalSeconds;
        }
        int workers = UViTTrainingSession.DefaultWorkers(CPU);                         // what the trainer uses, so the two sides match
        double Bare(int n) => BareTraining(images, labels, config, digits.ClassCount, batch, n, workers);

        ThroughMLNet(1);
        Bare(1);
        var fixedCost = new Spread(Enumerable.Range(0, 5).Select(_ => ThroughMLNet(1) - Bare(1)));
        gemm.Reset();
        gemm.Sample();
        var bareSeconds = new List<double>();
        var mlnetSeconds = new List<double>();
        for (int i = 0; i < pairs; i++)
        {
            // alternate which goes first, so that a drift in the machine's speed does not favour one side
            if (i % 2 == 0) { mlnetSeconds.Add(ThroughMLNet(steps)); bareSeconds.Add(Bare(steps)); }
            else { bareSeconds.Add(Bare(steps)); mlnetSeconds.Add(ThroughMLNet(steps)); }
            gemm.Sample();
        }
        var bare = new Spread(bareSeconds);
        var endToEnd = new Spread(mlnetSeconds.Zip(bareSeconds, (m, b) => 100 * (m - b) / b));
        var pipeline = new Dictionary<string, object>
        {
            ["case"] = "pipeline_overhead", ["steps"] = steps, ["batch"] = batch, ["pairs"] = pairs,
            ["fixed_overhead_seconds"] = fixedCost.ToJson(3),
            ["fixed_overhead_percent_of_bare_run"] = Math.Round(100 * fixedCost.Median / bare.Median, 2),
            ["bare_seconds"] = bare.ToJson(2), ["mlnet_seconds"] = new Spread(mlnetSeconds).ToJson(2),
            ["end_to_end_overhead_percent"] = endToEnd.ToJson(2),
        };
        var train = new Dictionary<string, object> { ["case"] = "mnist_train", ["batch"] = batch, ["workers"] = workers, ["steps_per_run"] = steps, ["runs"] = pairs };
        AddTiming(train, bare, gemm.Readings, 3 * config.ForwardGflops * batch * steps, steps, "steps_per_second");
        return (pipeline, train);
    }

    /// <summary>Seconds of <paramref name="steps"/> bare <see cref="UViTTrainingSession"/> steps of the MNIST default network on <paramref name="workers"/> training workers.</summary>
    private static double BareTraining(Tensor images, Tensor labels, UViTConfig config, int classes, int batch, int steps, int workers)
    {
        var clock = Stopwatch.StartNew();
        using var session = new UViTTrainingSession(new UViTNetwork(config, seed: 0) { UseFusedAttention = false }, UViTTrainerOptions.ShortRunRecipe, 0, classes) { Workers = workers };
        for (int step = 0; step < steps; step++)
        {
            using var scope = NewDisposeScope();
            long from = step * (long)batch % (images.shape[0] - batch);
            session.TrainStep(images.slice(0, from, from + batch, 1), labels.slice(0, from, from + batch, 1));
        }
        return clock.Elapsed.TotalSeconds;
    }

    /// <summary>
    /// Training workers against none: <paramref name="pairs"/> alternating pairs of <paramref name="steps"/>-step bare runs of
    /// the MNIST default network (batch <paramref name="batch"/>), one thread with every libtorch thread against
    /// <paramref name="workers"/> workers sharing them. Reports both sides and the per-pair ratio (workers / one thread).
    /// </summary>
    public static Dictionary<string, object> MnistTrainWorkers(IdxImageDataset digits, int steps, int batch, int pairs, int workers)
    {
        using var images = tensor(digits.Pixels.Select(p => p / 127.5f - 1).ToArray(), [digits.Count, 1, digits.Height, digits.Width]);
        using var labels = tensor(digits.Labels.Select(l => (long)l).ToArray());
        var config = UViTTrainerOptions.DefaultNetwork(1, digits.Height, digits.ClassCount + 1);
        double Run(int w) => BareTraining(images, labels, config, digits.ClassCount, batch, steps, w);
        Run(1);
        Run(workers);
        var one = new List<double>();
        var many = new List<double>();
        for (int i = 0; i < pairs; i++)
        {
            // alternate which goes first, so that a drift in the machine's speed does not favour one side
            if (i % 2 == 0) { one.Add(Run(1)); many.Add(Run(workers)); }
            else { many.Add(Run(workers)); one.Add(Run(1)); }
        }
        return new()
        {
            ["case"] = "mnist_train_workers", ["batch"] = batch, ["steps_per_run"] = steps, ["pairs"] = pairs, ["workers"] = workers,
            ["libtorch_threads"] = get_num_threads(),
            ["one_thread_steps_per_second"] = new Spread(one.Select(t => steps / t)).ToJson(2),
            ["workers_steps_per_second"] = new Spread(many.Select(t => steps / t)).ToJson(2),
            ["time_ratio_workers_to_one_thread"] = new Spread(many.Zip(one, (m, o) => m / o)).ToJson(3),
        };
    }

    /// <summary>Resident memory and live tensors over a long run of a small model: growth after warm-up should be ~0.</summary>
    public static Dictionary<string, object> Memory(int steps, int batch)
    {
        var config = new UViTConfig { ImageSize = 28, PatchSize = 7, InChannels = 1, EmbedDim = 128, Depth = 6, NumHeads = 4, NumClasses = 11 };
        using var session = new UViTTrainingSession(new UViTNetwork(config, seed: 0), UViTTrainerOptions.ShortRunRecipe, 0, 10);
        using var x = rand(batch, 1, 28, 28).TimesInPlace(2).PlusInPlace(-1.0);
        using var y = randint(0, 10, [batch]);
        int warmup = Math.Min(20, steps / 4);
        for (int i = 0; i < warmup; i++) session.TrainStep(x, y);
        var (_, afterWarmup) = BenchMachine.ResidentMiB();
        long liveAfterWarmup = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        long maxLiveGrowth = 0;
        for (int i = warmup; i < steps; i++)
        {
            session.TrainStep(x, y);
            maxLiveGrowth = Math.Max(maxLiveGrowth, DisposeScopeManager.Statistics.ThreadTotalLiveCount - liveAfterWarmup);
        }
        var (peak, end) = BenchMachine.ResidentMiB();
        return new()
        {
            ["case"] = "memory", ["steps"] = steps, ["batch"] = batch, ["rss_after_warmup_mib"] = Math.Round(afterWarmup, 1),
            ["rss_end_mib"] = Math.Round(end, 1), ["rss_peak_mib"] = Math.Round(peak, 1),
            ["rss_growth_percent"] = Math.Round(100 * (end / afterWarmup - 1), 2), ["max_live_tensor_growth"] = maxLiveGrowth,
        };
    }

    /// <summary>
    /// Checkpoint and model-file churn (issue #18): each cycle trains <paramref name="stepsPerCycle"/> steps, saves a checksummed
    /// checkpoint (keeping the previous one), loads it back, saves and reloads a model zip, and generates two images from the
    /// reloaded weights. A cycle builds 5 networks (2 copies for the generator, 1 on the meta device to check the zip's shapes,
    /// 2 loaded), and every network built costs TorchSharp 0.107 about 3.7 KB that it never frees (docs/reliability.md), so
    /// short cycles measure that residue and long ones what a training run sees.
    /// </summary>
    /// <param name="cycles">Timed cycles, or the most cycles when <paramref name="duration"/> is set.</param>
    /// <param name="duration">Run for this long instead (issue #18's one-hour soak), reporting every <paramref name="reportEvery"/>.</param>
    /// <param name="report">Receives a progress record (elapsed, cycles, resident memory, live tensors) every <paramref name="reportEvery"/>.</param>
    public static Dictionary<string, object> Soak(int cycles, int stepsPerCycle, int batch, TimeSpan? duration = null,
                                                  TimeSpan? reportEvery = null, Action<Dictionary<string, object>>? report = null)
    {
        var config = new UViTConfig { ImageSize = 28, PatchSize = 7, InChannels = 1, EmbedDim = 64, Depth = 4, NumHeads = 4, NumClasses = 11 };
        string folder = Path.Combine(Path.GetTempPath(), "uvit-soak-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        try
        {
            string latest = Path.Combine(folder, "latest.ckpt"), previous = Path.Combine(folder, "previous.ckpt"), zip = Path.Combine(folder, "model.zip");
            var mlContext = new MLContext(seed: 0);
            using var session = new UViTTrainingSession(new UViTNetwork(config, seed: 0), UViTTrainerOptions.ShortRunRecipe, 0, 10);
            using var x = rand(batch, 1, 28, 28).TimesInPlace(2).PlusInPlace(-1.0);                      // [B, 1, 28, 28]
            using var y = randint(0, 10, [batch]);                                                      // [B]
            void Cycle()
            {
                for (int i = 0; i < stepsPerCycle; i++) session.TrainStep(x, y);
                session.SaveCheckpoint(latest, previousPath: previous);
                session.LoadCheckpoint(latest);
                using (var model = new Transforms.Generation.UViTGenerationTransformer(session.CreateGenerator(), new SamplerSettings(), Transforms.Generation.PixelRange.Symmetric))
                    Transforms.Persistence.ModelFiles.SaveAtomically(mlContext.Model, model, null, zip);
                using var loaded = (Transforms.Generation.UViTGenerationTransformer)Transforms.Persistence.ModelFiles.LoadChecked(mlContext, zip, out _);
                using var images = loaded.Generator.Generate([1, 2], [3, 4], new SamplerSettings { Steps = 2 });   // [2, 1, 28, 28]
            }
            Cycle();
            Cycle();                                                                                    // warm-up: optimiser state, caches
            var (_, afterWarmup) = BenchMachine.ResidentMiB();
            double? heapAfterWarmup = BenchMachine.NativeHeapMiB()?.InUse;
            long liveAfterWarmup = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
            long maxLiveGrowth = 0;
            var clock = Stopwatch.StartNew();
            var nextReport = reportEvery ?? TimeSpan.FromMinutes(1);
            int done = 0;
            for (; done < cycles && (duration is null || clock.Elapsed < duration); done++)
            {
                Cycle();
                maxLiveGrowth = Math.Max(maxLiveGrowth, DisposeScopeManager.Statistics.ThreadTotalLiveCount - liveAfterWarmup);
                if (report is not null && clock.Elapsed >= nextReport)
                {
                    nextReport += reportEvery ?? TimeSpan.FromMinutes(1);
                    var (_, now) = BenchMachine.ResidentMiB();
                    // Then after a full collection with finalizers: what only a finalizer frees (native objects nobody disposed)
                    // shows as RSS that drops here; a true leak does not.
                    GC.Collect();
                    GC.WaitForPendingFinalizers();
                    GC.Collect();
                    var (_, afterGc) = BenchMachine.ResidentMiB();
                    var heap = BenchMachine.NativeHeapMiB();
                    report(new()
                    {
                        ["case"] = "soak_progress", ["minutes"] = Math.Round(clock.Elapsed.TotalMinutes, 2), ["cycles"] = done + 1,
                        ["rss_mib"] = Math.Round(now, 1), ["rss_growth_percent"] = Math.Round(100 * (now / afterWarmup - 1), 2),
                        ["rss_after_gc_mib"] = Math.Round(afterGc, 1),
                        ["live_tensor_growth"] = DisposeScopeManager.Statistics.ThreadTotalLiveCount - liveAfterWarmup,
                        ["managed_heap_mib"] = Math.Round(GC.GetTotalMemory(forceFullCollection: false) / 1048576.0, 1),   // RSS growth that is not .NET's
                        ["gc_committed_mib"] = Math.Round(GC.GetGCMemoryInfo().TotalCommittedBytes / 1048576.0, 1),        // what .NET's heap holds from the system
                        ["native_heap_in_use_mib"] = heap is { } inUse ? Math.Round(inUse.InUse, 1) : "n/a",
                        ["native_heap_growth_mib"] = NativeHeapGrowth(heapAfterWarmup),   // still-allocated native memory: the leak signal
                        ["native_heap_free_kept_mib"] = heap is { } kept ? Math.Round(kept.FreeKept, 1) : "n/a",
                        ["native_mapped_mib"] = heap is { } mapped ? Math.Round(mapped.Mapped, 1) : "n/a",
                    });
                }
            }
            cycles = done;
            var (peak, end) = BenchMachine.ResidentMiB();
            return new()
            {
                ["case"] = "soak", ["minutes"] = Math.Round(clock.Elapsed.TotalMinutes, 2), ["cycles"] = cycles, ["steps_per_cycle"] = stepsPerCycle, ["batch"] = batch,
                ["seconds_per_cycle"] = Math.Round(clock.Elapsed.TotalSeconds / Math.Max(1, cycles), 3),
                ["checkpoint_mib"] = Math.Round(new FileInfo(latest).Length / 1048576.0, 2), ["model_zip_mib"] = Math.Round(new FileInfo(zip).Length / 1048576.0, 2),
                ["rss_after_warmup_mib"] = Math.Round(afterWarmup, 1), ["rss_end_mib"] = Math.Round(end, 1), ["rss_peak_mib"] = Math.Round(peak, 1),
                ["rss_growth_percent"] = Math.Round(100 * (end / afterWarmup - 1), 2), ["max_live_tensor_growth"] = maxLiveGrowth,
                ["live_tensor_growth_per_cycle"] = Math.Round((double)maxLiveGrowth / Math.Max(1, cycles), 1),
                ["native_heap_growth_mib"] = NativeHeapGrowth(heapAfterWarmup),
                ["native_heap_growth_kib_per_cycle"] = NativeHeapGrowth(heapAfterWarmup) is double g ? Math.Round(1024 * g / Math.Max(1, cycles), 2) : "n/a",
            };
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    /// <summary>Native heap in use now minus <paramref name="baseline"/>, in MiB, or "n/a" off glibc.</summary>
    private static object NativeHeapGrowth(double? baseline) =>
        BenchMachine.NativeHeapMiB()?.InUse is double now && baseline is double start ? Math.Round(now - start, 2) : "n/a";
}
