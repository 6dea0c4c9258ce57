using System.CommandLine;
using System.Text.Json;
using UViT.MLNet.Cli.Bench;
using UViT.MLNet.Samples;

namespace UViT.MLNet.Cli.Commands;

/// <summary><c>uvit bench</c>: the fixed benchmark cases, one JSON line each (docs/benchmarks.md).</summary>
internal static class BenchCommand
{
    private static readonly string[] DefaultCases = ["matmul", "train", "sample", "pipeline", "workers", "mnist_generate", "memory"];

    public static Command Create()
    {
        var cases = new Option<string[]>("--cases") { Description = "Any of: matmul, train, sample, pipeline (also prints mnist_train), workers (training workers against one thread), mnist_generate, memory; contention, soak and store (store_fit is its child run) are not in the default set.", DefaultValueFactory = _ => DefaultCases, AllowMultipleArgumentsPerToken = true };
        var soakCycles = new Option<int>("--soak-cycles") { Description = "Cycles of the soak case (train, checkpoint, reload, model zip, reload, generate).", DefaultValueFactory = _ => 50 };
        var soakSteps = new Option<int>("--soak-steps") { Description = "Training steps per soak cycle (2: churn of checkpoints and model files; a few hundred: what a training run that checkpoints and previews sees).", DefaultValueFactory = _ => 2 };
        var soakMinutes = new Option<double?>("--minutes") { Description = "Run the soak case for this many minutes instead of --soak-cycles cycles, printing a soak_progress line every minute." };
        var threads = new Option<int?>("--threads") { Description = "libtorch CPU threads (default: the physical cores, or OMP_NUM_THREADS)." };
        var trainSteps = new Option<int>("--train-steps") { Description = "Timed steps of the train case (after a warm-up step on 4 images); one step of U-ViT-S/2 at batch 32 takes ~20-30 s on 2 cores.", DefaultValueFactory = _ => 3 };
        var sampleRuns = new Option<int>("--sample-runs") { Description = "Timed runs of the sample case (20 guided DPM-Solver++ steps at batch 4 each).", DefaultValueFactory = _ => 3 };
        var pipelinePairs = new Option<int>("--pipeline-pairs") { Description = "Alternating pairs (ML.NET pipeline, bare loop) of the pipeline case's end-to-end comparison.", DefaultValueFactory = _ => 3 };
        var pipelineSteps = new Option<int>("--pipeline-steps") { Description = "Training steps of each end-to-end run of the pipeline case.", DefaultValueFactory = _ => 20 };
        var generateBatch = new Option<int>("--generate-batch") { Description = "Batch of the mnist_generate and contention cases.", DefaultValueFactory = _ => 100 };
        var generateRuns = new Option<int>("--generate-runs") { Description = "Timed runs of the mnist_generate case (and of each contention worker).", DefaultValueFactory = _ => 3 };
        var unprotectedPair = new Option<bool>("--contention-unprotected-pair") { Description = "Also run the contention pair without the OpenMP defaults (minutes on 2 cores: the collapse it measures)." };
        var device = new Option<string>("--device") { Description = "cpu, cuda or cuda:N for the train, sample, mnist_generate cases and the GEMM yardstick (the others run on the CPU).", DefaultValueFactory = _ => "cpu" };
        var dtype = new Option<string>("--dtype") { Description = "Weights dtype of the sampling cases (sample, mnist_generate): float32, float16 or bfloat16. Training is fp32 (no autocast in TorchSharp 0.107).", DefaultValueFactory = _ => "float32" };
        var memorySteps = new Option<int>("--memory-steps") { Description = "Steps of the memory case.", DefaultValueFactory = _ => 200 };
        var storeImages = new Option<int[]>("--store-images") { Description = "Synthetic 32x32 RGB images of the store case's runs (store_fit: the first).", DefaultValueFactory = _ => [5000, 50000], AllowMultipleArgumentsPerToken = true };
        var storeSteps = new Option<int>("--store-steps") { Description = "Training steps (batch 64) of each store case run.", DefaultValueFactory = _ => 300 };
        var storeMode = new Option<string>("--store-mode") { Description = "Where store_fit keeps the training data: disk or memory (the store case runs both).", DefaultValueFactory = _ => "disk" };
        var command = new Command("bench", "Measure training and sampling speed against this machine's GEMM rate (sampled around every timed step), ML.NET overhead, memory and contention; prints JSON lines.")
        {
            cases, threads, trainSteps, sampleRuns, pipelinePairs, pipelineSteps, generateBatch, generateRuns, unprotectedPair, device, dtype, memorySteps, soakCycles, soakSteps, soakMinutes,
            storeImages, storeSteps, storeMode,
        };
        command.SetAction(parse => CliErrors.Run(() =>
        {
            LibTorchThreads.Apply(parse.GetValue(threads));
            var onDevice = UViT.MLNet.Core.Runtime.TorchRuntime.ParseDevice(parse.GetValue(device));
            var weightsType = UViT.MLNet.Core.Runtime.TorchRuntime.ParseDType(parse.GetValue(dtype));
            var wanted = parse.GetValue(cases)!.ToHashSet(StringComparer.OrdinalIgnoreCase);
            var machine = BenchMachine.Describe();
            void Emit(Dictionary<string, object> record)
            {
                foreach (var (key, value) in machine) record[key] = value;
                record["device"] = onDevice.ToString();
                Console.WriteLine(JsonSerializer.Serialize(record));
            }
            using var gemm = new GemmYardstick(onDevice);
            if (wanted.Contains("matmul")) Emit(BenchCases.Matmul(gemm, samples: 5));
            if (wanted.Contains("train")) Emit(BenchCases.Train(batch: 32, steps: Positive(parse.GetValue(trainSteps), "--train-steps"), gemm, onDevice));
            if (wanted.Contains("sample")) Emit(BenchCases.Sample(batch: 4, steps: 20, Positive(parse.GetValue(sampleRuns), "--sample-runs"), gemm, onDevice, weightsType));
            if (wanted.Contains("pipeline"))
            {
                var digits = ShippedMnist.Read(2000);
                var (pipeline, mnistTrain) = BenchCases.PipelineOverhead(digits, Positive(parse.GetValue(pipelineSteps), "--pipeline-steps"), batch: 64,
                                                                         Positive(parse.GetValue(pipelinePairs), "--pipeline-pairs"), gemm);
                Emit(pipeline);
                Emit(mnistTrain);
            }
            if (wanted.Contains("workers"))
                Emit(BenchCases.MnistTrainWorkers(ShippedMnist.Read(2000), Positive(parse.GetValue(pipelineSteps), "--pipeline-steps"), batch: 64,
                                                  Positive(parse.GetValue(pipelinePairs), "--pipeline-pairs"), workers: 2));
            if (wanted.Contains("mnist_generate")) Emit(BenchCases.MnistGenerate(Positive(parse.GetValue(generateBatch), "--generate-batch"), Positive(parse.GetValue(generateRuns), "--generate-runs"), gemm, onDevice, weightsType));
            if (wanted.Contains("memory")) Emit(BenchCases.Memory(parse.GetValue(memorySteps), batch: 32));
            if (wanted.Contains("contention")) Emit(Contention.Run(parse.GetValue(generateBatch), Positive(parse.GetValue(generateRuns), "--generate-runs"), parse.GetValue(unprotectedPair)));
            if (wanted.Contains("store") || wanted.Contains("store_fit"))
            {
                var sizes = parse.GetValue(storeImages)!;
                if (sizes.Length == 0 || sizes.Any(n => n < 1)) throw new ArgumentException($"--store-images must list positive counts; got [{string.Join(", ", sizes)}].");
                int steps = Positive(parse.GetValue(storeSteps), "--store-steps");
                if (wanted.Contains("store_fit")) Emit(StoreBench.Fit(sizes[0], parse.GetValue(storeMode)!, steps));
                else Emit(StoreBench.Run(sizes, steps, Console.WriteLine));
            }
            if (wanted.Contains("soak"))
            {
                double? minutes = parse.GetValue(soakMinutes);
                if (minutes is { } m && !(m > 0 && m <= 7 * 24 * 60)) throw new ArgumentException($"--minutes must be above 0 and at most a week; got {m}.");
                int stepsPerCycle = Positive(parse.GetValue(soakSteps), "--soak-steps");
                Emit(minutes is { } span
                    ? BenchCases.Soak(int.MaxValue, stepsPerCycle, batch: 16, TimeSpan.FromMinutes(span), TimeSpan.FromMinutes(1), Emit)
                    : BenchCases.Soak(Positive(parse.GetValue(soakCycles), "--soak-cycles"), stepsPerCycle, batch: 16));
            }
            return 0;
        }));
        return command;
    }

    private static int Positive(int value, string option) => value >= 1 ? value : throw new ArgumentException($"{option} must be at least 1; got {value}.");
}
