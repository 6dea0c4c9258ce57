using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using Microsoft.ML;
using UViT.MLNet.Cli.Ablation;
using UViT.MLNet.Core.Checkpoints;
using UViT.MLNet.Core.Evaluation;
using UViT.MLNet.Estimators;
using UViT.MLNet.Samples;

namespace UViT.MLNet.Cli.Commands;

/// <summary>
/// <c>uvit ablate</c>: the U-ViT paper's architecture ablations (section 4.1) measured on MNIST. Trains short seeded runs of
/// variants that differ from the default MNIST network in one thing (<see cref="AblationVariant.All"/>), has the digit judge
/// read the digits of each, and writes a markdown table (mean and range over the seeds), a plot and JSON lines.
/// </summary>
internal static class AblateCommand
{
    public static Command Create()
    {
        var steps = new Option<int>("--steps") { Description = "Optimiser steps per run (equal-compute variants scale this by the FLOPs ratio).", DefaultValueFactory = _ => 1500 };
        var seeds = new Option<int>("--seeds") { Description = "Runs per variant, with seeds 0, 1, ... (at least 2 to see the spread).", DefaultValueFactory = _ => 2 };
        var variants = new Option<string?>("--variants") { Description = $"Comma-separated variants (default: all): {string.Join(", ", AblationVariant.All.Select(v => v.Name))}." };
        var output = new Option<string>("--output", "-o") { Description = "Folder for ablation.md, ablation.png and ablation.jsonl (rewritten after every run).", DefaultValueFactory = _ => "ablation" };
        var perClass = new Option<int>("--per-class") { Description = $"Digits per class each run generates for the judge (1-{DigitJudgeSplit.HeldOutPerClass / 2}).", DefaultValueFactory = _ => 50 };
        var batch = new Option<int>("--batch-size") { Description = "Images per step.", DefaultValueFactory = _ => 64 };
        var device = new Option<string>("--device") { Description = "cpu, cuda or cuda:N.", DefaultValueFactory = _ => "cpu" };
        var threads = new Option<int?>("--threads") { Description = "libtorch CPU threads (default: all cores)." };
        var json = new Option<bool>("--json") { Description = "Print each run as one JSON line instead of text." };
        var sampling = TrainCommand.CreateSamplingOptions();
        var command = new Command("ablate",
            "Measure the U-ViT paper's ablations on MNIST: long skips on/off and concat vs add, time as a token vs adaptive layer norm, the 3x3 output conv " +
            "on/off, and a smaller patch at equal compute; each variant trained --seeds times and judged by the digit judge. A long run: on 2 CPU cores a " +
            "1,500-step run takes about 4 minutes on idle cores (6 with 1 thread beside a second run), so the default (6 variants x 2 seeds) takes 40-50 minutes; " +
            "two processes with --threads 1 and half the --variants each finish sooner; --steps 5 --per-class 2 --seeds 1 takes under a minute.")
        {
            steps, seeds, variants, output, perClass, batch, device, threads, json,
        };
        sampling.AddTo(command);
        command.SetAction(parse => CliErrors.Run(() =>
        {
            int stepCount = parse.GetValue(steps), seedCount = parse.GetValue(seeds), digitsPerClass = parse.GetValue(perClass), batchSize = parse.GetValue(batch);
            Require(stepCount >= 1, $"--steps must be at least 1; got {stepCount}.");
            Require(seedCount >= 1, $"--seeds must be at least 1; got {seedCount}.");
            Require(digitsPerClass >= 1 && 2 * digitsPerClass <= DigitJudgeSplit.HeldOutPerClass, $"--per-class must lie in 1-{DigitJudgeSplit.HeldOutPerClass / 2}; got {digitsPerClass}.");
            Require(batchSize >= 1, $"--batch-size must be at least 1; got {batchSize}.");
            LibTorchThreads.Validate(parse.GetValue(threads));
            var chosen = AblationVariant.Select(parse.GetValue(variants));
            var samplingSettings = sampling.Read(parse);
            samplingSettings.Validate(UViTTrainerOptions.ShortRunRecipe.Schedule);
            string judgePath = ShippedMnist.JudgePath;
            if (!File.Exists(judgePath)) throw new FileNotFoundException($"The digit judge's weights '{judgePath}' are missing (write them with `uvit judge train`).", judgePath);
            LibTorchThreads.Apply(parse.GetValue(threads));
            string folder = Path.GetFullPath(parse.GetValue(output)!);
            Directory.CreateDirectory(folder);
            bool quiet = parse.GetValue(json);

            var clock = Stopwatch.StartNew();
            var mlContext = new MLContext(seed: 0);
            var shipped = ShippedMnist.Read();
            var digits = shipped.ToDataView(mlContext);
            var baseline = UViTTrainerOptions.DefaultNetwork(1, shipped.Width, shipped.ClassCount + 1);
            if (!quiet) Console.WriteLine($"ablation: {chosen.Count} variants x {seedCount} seeds on {shipped.Count} MNIST digits; baseline: patch {baseline.PatchSize}, " +
                                          $"width {baseline.EmbedDim}, depth {baseline.Depth}; {stepCount} steps of batch {batchSize}; {10 * digitsPerClass} judged digits per run");
            var results = new List<AblationResult>();
            string table = "";
            foreach (var variant in chosen)
            {
                var network = variant.Apply(baseline).Validate();
                int variantSteps = variant.Steps(stepCount, baseline);
                for (long seed = 0; seed < seedCount; seed++)
                {
                    var bar = quiet ? null : new ConsoleProgressBar($"{variant.Name} seed {seed}");
                    var progress = bar is null ? null : new SynchronousProgress<TrainingProgress>(p => bar.Update(p.Step, p.TotalSteps, $"loss {p.Loss:F4}"));
                    var result = AblationRun.Run(mlContext, digits, variant, network, variantSteps, batchSize, seed, parse.GetValue(device)!, samplingSettings, digitsPerClass, judgePath, progress);
                    bar?.Done();
                    results.Add(result);
                    Console.WriteLine(quiet ? AblationTable.JsonLine(result)
                        : Invariant($"{variant.Name} seed {seed}: accuracy {result.Accuracy * 100:F1}%, feature distance {result.FeatureDistance:F2} (floor {result.Floor:F2}); ") +
                                    Invariant($"{result.Steps} steps in {result.TrainSeconds:F0} s, {result.Count} digits in {result.GenerationSeconds:F0} s"));
                    table = Write(folder, chosen, results, Settings(stepCount, seedCount, batchSize, digitsPerClass, samplingSettings, baseline, clock.Elapsed));
                }
            }
            if (!quiet)
            {
                Console.WriteLine();
                Console.Write(table);
                Console.WriteLine($"wrote {Path.Combine(folder, "ablation.md")}, ablation.png and ablation.jsonl; total {clock.Elapsed:hh\\:mm\\:ss}");
            }
            return 0;
        }));
        return command;
    }

    /// <summary>Rewrites the table, the plot and the JSON lines (atomically), so an interrupted ablation keeps its finished runs; returns the table.</summary>
    private static string Write(string folder, IReadOnlyList<AblationVariant> variants, IReadOnlyList<AblationResult> results, string settings)
    {
        var summaries = AblationSummary.Of(variants, results);
        string table = AblationTable.Markdown(summaries, settings);
        WriteText(Path.Combine(folder, "ablation.md"), table);
        WriteText(Path.Combine(folder, "ablation.jsonl"), string.Concat(results.Select(r => AblationTable.JsonLine(r) + "\n")));
        AblationPlot.Save(Path.Combine(folder, "ablation.png"), summaries, Invariant($"uvit ablate: MNIST, {results.Max(r => r.Seed) + 1} seed(s) per variant, n = {results[0].Count} digits per run"));
        return table;
    }

    /// <summary>Writes UTF-8 text (no BOM) atomically.</summary>
    private static void WriteText(string path, string text) => AtomicFile.Write(path, stream =>
    {
        using var writer = new StreamWriter(stream, new UTF8Encoding(false), leaveOpen: true) { NewLine = "\n" };
        writer.Write(text);
    });

    /// <summary>What the numbers were measured with, written under the table.</summary>
    private static string Settings(int steps, int seeds, int batch, int perClass, Core.Generation.SamplerSettings sampling, Core.Networks.UViTConfig baseline, TimeSpan elapsed)
    {
        var recipe = UViTTrainerOptions.ShortRunRecipe;
        return Invariant($"Measured by `uvit ablate` on the {Environment.ProcessorCount}-core machine it ran on ({elapsed:hh\\:mm\\:ss} so far): baseline = the default MNIST network ") +
                         Invariant($"(patch {baseline.PatchSize}, width {baseline.EmbedDim}, depth {baseline.Depth}, {baseline.NumHeads} heads); {steps} steps of batch {batch} with the short-run recipe ") +
                         Invariant($"(lr {recipe.LearningRate}, {recipe.Schedule} schedule, {(recipe.MinSnrGamma is double gamma ? $"Min-SNR gamma {gamma}" : "unweighted loss")}, EMA {recipe.EmaRate}{(recipe.EmaWarmup ? $" with warm-up offset {recipe.EmaWarmupOffset ?? Core.Training.ExponentialMovingAverage.DefaultWarmupOffset}" : "")}); seeds 0-{seeds - 1}; each run judged on {10 * perClass} digits ({perClass} per class) ") +
                         $"from {sampling.Summary}; feature distance = Frechet distance " +
                         Invariant($"of the digit judge's 128-d features against {10 * perClass} real held-out digits; floor = the same for {10 * perClass} other real digits. ") +
                         "Equal-compute variants train for baseline/variant forward FLOPs times the steps.";
    }

    private static void Require(bool ok, string message)
    {
        if (!ok) throw new ArgumentException(message);
    }

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
