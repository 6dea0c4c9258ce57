using System.CommandLine;
using System.Text.Json;
using UViT.MLNet.Cli.Bench;
using UViT.MLNet.Transforms.Data;

namespace UViT.MLNet.Cli.Commands;

/// <summary><c>uvit bench</c>: the fixed benchmark cases, one JSON line each (docs/benchmarks.md).</summary>
internal static class BenchCommand
{
    public static Command Create()
    {
        var cases = new Option<string[]>("--cases") { Description = "Any of: matmul, train, sample, pipeline, memory, soak (soak is not in the default set).", DefaultValueFactory = _ => ["matmul", "train", "sample", "pipeline", "memory"], AllowMultipleArgumentsPerToken = true };
        var soakCycles = new Option<int>("--soak-cycles") { Description = "Cycles of the soak case (train, checkpoint, reload, model zip, reload).", DefaultValueFactory = _ => 50 };
        var threads = new Option<int?>("--threads") { Description = "libtorch CPU threads (default: all cores)." };
        var trainSteps = new Option<int>("--train-steps") { Description = "Measured steps of the train case (after a warm-up step on 4 images); one step of U-ViT-S/2 at batch 32 takes ~30 s on 2 cores.", DefaultValueFactory = _ => 1 };
        var memorySteps = new Option<int>("--memory-steps") { Description = "Steps of the memory case.", DefaultValueFactory = _ => 200 };
        var command = new Command("bench", "Measure training and sampling speed against this machine's matmul peak, ML.NET overhead and memory growth; prints JSON lines.")
        {
            cases, threads, trainSteps, memorySteps, soakCycles,
        };
        command.SetAction(parse => CliErrors.Run(() =>
        {
            LibTorchThreads.Apply(parse.GetValue(threads));
            var wanted = parse.GetValue(cases)!.ToHashSet(StringComparer.OrdinalIgnoreCase);
            var machine = BenchMachine.Describe();
            void Emit(Dictionary<string, object> record)
            {
                foreach (var (key, value) in machine) record[key] = value;
                Console.WriteLine(JsonSerializer.Serialize(record));
            }
            var peak = BenchCases.MatmulPeak();
            if (wanted.Contains("matmul")) Emit(peak);
            double peakGflops = (double)peak["gflops"];
            if (wanted.Contains("train")) Emit(BenchCases.Train(batch: 32, steps: parse.GetValue(trainSteps), peakGflops));
            if (wanted.Contains("sample")) Emit(BenchCases.Sample(batch: 4, steps: 20));
            if (wanted.Contains("pipeline"))
            {
                string mnist = Path.Combine(AppContext.BaseDirectory, "data", "mnist");
                var digits = IdxImageDataset.Read(Path.Combine(mnist, "images-idx3-ubyte.gz"), Path.Combine(mnist, "labels-idx1-ubyte.gz"), 2000);
                Emit(BenchCases.PipelineOverhead(digits, steps: 40, batch: 64));
            }
            if (wanted.Contains("memory")) Emit(BenchCases.Memory(parse.GetValue(memorySteps), batch: 32));
            if (wanted.Contains("soak")) Emit(BenchCases.Soak(parse.GetValue(soakCycles), stepsPerCycle: 2, batch: 16));
            return 0;
        }));
        return command;
    }
}
