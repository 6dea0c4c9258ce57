using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Microsoft.ML;
using UViT.MLNet.Core.Checkpoints;
using UViT.MLNet.Core.Evaluation;
using UViT.MLNet.Transforms.Persistence;

namespace UViT.MLNet.Cli.Commands;

/// <summary>
/// <c>uvit judge MODEL.zip</c>: generates digits of every class from an MNIST class model and has the shipped digit judge
/// (a small CNN) report accuracy, confidence and the feature distance to real digits next to the real-vs-real floor.
/// <c>uvit judge train</c>: trains that judge on the shipped digits and writes its safetensors file.
/// </summary>
internal static class JudgeCommand
{
    public static Command Create()
    {
        var model = new Argument<FileInfo>("model") { Description = "A model.zip of a 10-class 28x28 grey model (e.g. `uvit train` on the shipped MNIST digits)." };
        var count = new Option<int>("--count", "-n") { Description = "Digits per class (1-100; the real reference and floor sets take as many of each class).", DefaultValueFactory = _ => 50 };
        var seed = new Option<long>("--seed") { Description = "Seed of the first digit; digit c, image i uses seed + c * count + i (what `uvit train` judges with).", DefaultValueFactory = _ => 0 };
        var batch = new Option<int?>("--batch-size") { Description = "Images per sampler run (default: the model's setting)." };
        var judgeFile = new Option<FileInfo?>("--judge") { Description = "The judge's safetensors file (default: the shipped data/mnist/digit-judge.safetensors)." };
        var json = new Option<bool>("--json") { Description = "Print the report as one JSON line instead of text (and no progress bar: stdout holds only the JSON)." };
        var sampling = SamplingOptions.ForSavedModel();
        var command = new Command("judge", "Generate digits from an MNIST class model and report how a CNN digit classifier reads them (accuracy, confidence, feature distance to real digits).")
        {
            model, count, seed, batch, judgeFile, json, CreateTrain(),
        };
        sampling.AddTo(command);
        command.SetAction(parse => CliErrors.Run(() =>
        {
            string modelPath = parse.GetValue(model)!.FullName;
            var mlContext = new MLContext(seed: 0).RegisterUViT();
            var loaded = GenerationHelpers.LoadModel(mlContext, modelPath);
            var original = GenerationHelpers.FindGenerator(loaded);
            var generator = original.WithSampling(sampling.Override(parse, original.Settings));
            if (parse.GetValue(batch) is int b) generator = generator.WithBatchSize(b);
            string judgePath = parse.GetValue(judgeFile)?.FullName ?? ShippedMnist.JudgePath;
            var outcome = DigitJudging.Run(mlContext, loaded, generator, parse.GetValue(count), parse.GetValue(seed), judgePath, showProgress: !parse.GetValue(json));
            if (parse.GetValue(json)) Console.WriteLine(DigitJudging.Json(outcome, modelPath));
            else
            {
                Console.WriteLine($"model:            {modelPath}");
                foreach (string line in DigitJudging.Lines(outcome)) Console.WriteLine(line);
            }
            return 0;
        }));
        return command;
    }

    private static Command CreateTrain()
    {
        var output = new Option<string>("--output", "-o") { Description = "The safetensors file to write (the shipped one is src/Samples/data/mnist/digit-judge.safetensors).", DefaultValueFactory = _ => "digit-judge.safetensors" };
        var epochs = new Option<int>("--epochs") { Description = "Passes over the 8,000 training digits.", DefaultValueFactory = _ => new DigitJudgeTrainingOptions().Epochs };
        var seed = new Option<long>("--seed") { Description = "Seed of initialisation, dropout and batch order.", DefaultValueFactory = _ => 0 };
        var threads = new Option<int?>("--threads") { Description = "libtorch CPU threads (default: all cores)." };
        var command = new Command("train", "Train the digit judge (a small CNN) on the shipped MNIST digits, print its held-out accuracy and write its weights.")
        {
            output, epochs, seed, threads,
        };
        command.SetAction(parse => CliErrors.Run(() =>
        {
            LibTorchThreads.Apply(parse.GetValue(threads));
            var options = new DigitJudgeTrainingOptions(Seed: parse.GetValue(seed), Epochs: parse.GetValue(epochs));
            var digits = ShippedMnist.Read();
            int[] training = DigitJudgeSplit.Training(digits.Labels), heldOut = DigitJudgeSplit.HeldOut(digits.Labels);
            Console.WriteLine($"split: {DigitJudgeSplit.Description} ({training.Length} training, {heldOut.Length} held out)");
            var clock = Stopwatch.StartNew();
            var progress = new InlineProgress<(int Epoch, double Loss)>(p =>
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"epoch {p.Epoch}/{options.Epochs}: mean training loss {p.Loss:F4} ({clock.Elapsed:mm\\:ss})")));
            using var judge = DigitJudgeTrainer.Train(digits.Pixels, digits.Labels, training, options, progress);
            var elapsed = clock.Elapsed;
            double accuracy = DigitJudgeTrainer.Accuracy(judge, digits.Pixels, digits.Labels, heldOut);
            string path = Path.GetFullPath(parse.GetValue(output)!);
            var metadata = new Dictionary<string, string>
            {
                ["split"] = DigitJudgeSplit.Description,
                ["held_out_accuracy"] = accuracy.ToString("R", CultureInfo.InvariantCulture),
                ["held_out_count"] = heldOut.Length.ToString(CultureInfo.InvariantCulture),
                ["seed"] = options.Seed.ToString(CultureInfo.InvariantCulture),
                ["recipe"] = DigitJudgeTrainer.Describe(options),
                ["training_time"] = elapsed.ToString(@"m\:ss", CultureInfo.InvariantCulture),
                ["command"] = "uvit " + string.Join(" ", Environment.GetCommandLineArgs().Skip(1)),
                ["input"] = DigitJudge.InputDescription,
            };
            StateDictFile.WriteSafetensors(path, judge.state_dict(), metadata);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"held-out accuracy: {accuracy * 100:F2}% ({heldOut.Length} real digits never trained on); trained in {elapsed:mm\\:ss}"));
            Console.WriteLine($"wrote {path} ({new FileInfo(path).Length / 1024} KiB)");
            return 0;
        }));
        return command;
    }
}
