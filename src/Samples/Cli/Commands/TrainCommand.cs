using System.CommandLine;
using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Data;
using UViT.MLNet.Core.Generation;
using UViT.MLNet.Core.Networks;
using UViT.MLNet.Core.Training;
using UViT.MLNet.Estimators;
using UViT.MLNet.Samples;
using UViT.MLNet.Transforms.Generation;
using UViT.MLNet.Transforms.Persistence;

namespace UViT.MLNet.Cli.Commands;

/// <summary>
/// <c>uvit train</c>: the main job. Trains a class-conditional U-ViT through the ML.NET pipeline (on the shipped MNIST digits
/// by default, or on a folder with one subfolder per class), saves the model zip, loads it back in a fresh MLContext,
/// generates every class with guidance and writes a PNG grid (samples.png) and the training-loss plot (loss.png). On the MNIST
/// digits it ends with the digit check: the digit judge (a CNN, see <see cref="JudgeCommand"/>) reads 50 generated digits per class.
/// </summary>
internal static class TrainCommand
{
    public static Command Create()
    {
        var data = new Option<string?>("--data") { Description = "A folder with one subfolder of images per class. Default: the 10,000 MNIST digits shipped in src/Samples/data/mnist." };
        var size = new Option<int>("--image-size") { Description = "Side images are resized to (folder data only).", DefaultValueFactory = _ => 32 };
        var grayscale = new Option<bool>("--grayscale") { Description = "Train on one channel (folder data only; MNIST is always grey)." };
        var steps = new Option<int>("--steps") { Description = "Optimiser steps.", DefaultValueFactory = _ => 3000 };
        var minutes = new Option<double?>("--minutes") { Description = "Stop training after this many minutes (the model so far is kept)." };
        var batch = new Option<int>("--batch-size") { Description = "Images per step.", DefaultValueFactory = _ => 64 };
        var output = new Option<string>("--output", "-o") { Description = "Folder for model.zip, samples.png and the training checkpoint.", DefaultValueFactory = _ => "outputs" };
        var device = new Option<string>("--device") { Description = "cpu, cuda or cuda:N.", DefaultValueFactory = _ => "cpu" };
        var seed = new Option<long>("--seed") { Description = "Seed of initialisation, data order and noise.", DefaultValueFactory = _ => 0 };
        var resume = new Option<bool>("--resume") { Description = "Continue from OUTPUT/checkpoint/latest.ckpt if present." };
        var force = new Option<bool>("--force") { Description = "Start afresh even though OUTPUT/checkpoint holds an earlier run's checkpoint (it is replaced)." };
        var checkpointEvery = new Option<int>("--checkpoint-every") { Description = "Optimiser steps between checkpoints.", DefaultValueFactory = _ => 500 };
        var sampling = CreateSamplingOptions();
        var perClass = new Option<int>("--per-class") { Description = "Samples per class in the grid.", DefaultValueFactory = _ => 10 };
        var threads = new Option<int?>("--threads") { Description = "libtorch CPU threads (default: all cores)." };
        var workers = new Option<int?>("--workers") { Description = "Threads that compute each step's gradients at once on slices of the batch, sharing the libtorch threads (CPU only; default: 2 with 2 or more threads, else 1)." };
        var schedule = new Option<NoiseScheduleKind?>("--schedule") { Description = "ContinuousVP or DiscreteSD (default: the short-run recipe's)." };
        var learningRate = new Option<double?>("--learning-rate") { Description = "Peak learning rate (default: the short-run recipe's)." };
        var minSnr = new Option<double?>("--min-snr-gamma") { Description = "Weight each sample's loss by min(SNR, gamma) / SNR (Min-SNR weighting; default: the short-run recipe's)." };
        var cosine = new Option<bool>("--cosine-decay") { Description = "Decay the learning rate along a half cosine to 0 at the last step (default: constant after warm-up)." };
        var emaRate = new Option<double?>("--ema-rate") { Description = "EMA rate of the weights sampling uses (default: the short-run recipe's)." };
        var emaWarmupOffset = new Option<double?>("--ema-warmup-offset") { Description = "k in the EMA warm-up min(rate, (1 + n) / (k + n)): the average spans about the last n / (k - 1) steps; above 1 (default: the short-run recipe's)." };
        var width = new Option<int?>("--width") { Description = "Network width D (default network only)." };
        var depth = new Option<int?>("--depth") { Description = "Network depth (default network only)." };
        var patch = new Option<int?>("--patch-size") { Description = "Patch size (default network only)." };
        var timeConditioning = new Option<UViTTimeConditioning?>("--time-conditioning") { Description = "Token (the paper's: time and label as tokens) or AdaLayerNorm (through adaptive layer norms; default network only)." };
        var guidanceDropout = new Option<double?>("--guidance-dropout") { Description = "Probability of training a sample without its label, which classifier-free guidance needs (default: the short-run recipe's)." };
        var attention = new Option<AttentionKernel>("--attention") { Description = "Auto (fused on GPUs and from 100 tokens, else plain), Fused (scaled_dot_product_attention) or Plain (the official math; faster on CPU below ~100 tokens).", DefaultValueFactory = _ => AttentionKernel.Auto };
        var dataStore = new Option<TrainingDataStore>("--data-store") { Description = "Where the training images are kept: Auto (in memory up to 2 GiB of float32 values, else in a store file in OUTPUT/checkpoint, deleted at the end), Memory or Disk.", DefaultValueFactory = _ => TrainingDataStore.Auto };

        var command = new Command("train", "Train a class-conditional U-ViT through the ML.NET pipeline, save model.zip, reload it and write a sample grid.")
        {
            data, size, grayscale, steps, minutes, batch, output, device, seed, resume, force, checkpointEvery, perClass, threads, workers, schedule, learningRate, minSnr, emaRate, emaWarmupOffset, cosine, guidanceDropout, width, depth, patch, timeConditioning, attention, dataStore,
        };
        sampling.AddTo(command);
        command.SetAction(parse => CliErrors.Run(() =>
        {
            TrainSettings.Check(parse.GetValue(steps), parse.GetValue(batch), parse.GetValue(minutes), parse.GetValue(threads),
                                parse.GetValue(checkpointEvery), parse.GetValue(perClass), parse.GetValue(size), parse.GetValue(workers));
            var samplingSettings = sampling.Read(parse);
            samplingSettings.Validate(parse.GetValue(schedule) ?? UViTTrainerOptions.ShortRunRecipe.Schedule);
            string outputFolder = Path.GetFullPath(parse.GetValue(output)!);
            string checkpointFolder = Path.Combine(outputFolder, "checkpoint");
            TrainSettings.RefuseToReplaceRun(checkpointFolder, parse.GetValue(resume), parse.GetValue(force));
            LibTorchThreads.Apply(parse.GetValue(threads));
            Directory.CreateDirectory(outputFolder);
            var clock = Stopwatch.StartNew();
            var mlContext = new MLContext(seed: 0);

            var (view, pipelineStart, description) = LoadData(mlContext, parse.GetValue(data), parse.GetValue(size), parse.GetValue(grayscale));
            Console.WriteLine($"data: {description}");
            using var cancel = parse.GetValue(minutes) is double m ? new CancellationTokenSource(TimeSpan.FromMinutes(m)) : new CancellationTokenSource();
            // Ctrl+C and SIGTERM stop training at the next step like --minutes does: the checkpoint, model and samples are still written.
            using var stop = new StopSignals(cancel);
            var bar = new ConsoleProgressBar("training");
            var losses = new LossPlot();
            var options = new UViTTrainerOptions
            {
                MaxSteps = parse.GetValue(steps),
                BatchSize = parse.GetValue(batch),
                Seed = parse.GetValue(seed),
                Device = parse.GetValue(device)!,
                CheckpointDirectory = checkpointFolder,
                TrainingDataStore = parse.GetValue(dataStore),
                CheckpointInterval = parse.GetValue(checkpointEvery),
                Resume = parse.GetValue(resume),
                Sampling = samplingSettings,
                Attention = parse.GetValue(attention),
                TrainingWorkers = parse.GetValue(workers),
                ReportInterval = 10,
                Progress = new SynchronousProgress<TrainingProgress>(p => { bar.Update(p.Step, p.TotalSteps, $"loss {p.Loss:F4}"); losses.Add(p); }),
                CancellationToken = cancel.Token,
            };
            var recipe = UViTTrainerOptions.ShortRunRecipe;
            if (parse.GetValue(schedule) is NoiseScheduleKind kind) recipe = recipe with { Schedule = kind };
            if (parse.GetValue(learningRate) is double lr) recipe = recipe with { LearningRate = lr };
            if (parse.GetValue(minSnr) is double gamma) recipe = recipe with { MinSnrGamma = gamma };
            if (parse.GetValue(emaRate) is double rate) recipe = recipe with { EmaRate = rate };
            if (parse.GetValue(emaWarmupOffset) is double offset) recipe = recipe with { EmaWarmupOffset = offset };
            if (parse.GetValue(cosine)) recipe = recipe with { CosineDecay = true };
            if (parse.GetValue(guidanceDropout) is double p) recipe = recipe with { ConditionDropProbability = p };
            options.Recipe = recipe;
            if (parse.GetValue(width) is not null || parse.GetValue(depth) is not null || parse.GetValue(patch) is not null || parse.GetValue(timeConditioning) is not null)
            {
                var imageShape = pipelineStart.Fit(view).GetOutputSchema(view.Schema)["Image"].Type as VectorDataViewType;
                int channels = imageShape!.Dimensions[0], side = imageShape.Dimensions[1];
                int classes = view.Schema.GetColumnOrNull("Label")?.Type is KeyDataViewType k ? (int)k.Count : DistinctClasses(parse.GetValue(data));
                var network = UViTTrainerOptions.DefaultNetwork(channels, side, recipe.ConditionDropProbability > 0 ? classes + 1 : classes);   // + the null class guidance needs
                options.Network = network with
                {
                    EmbedDim = parse.GetValue(width) ?? network.EmbedDim,
                    Depth = parse.GetValue(depth) ?? network.Depth,
                    PatchSize = parse.GetValue(patch) ?? network.PatchSize,
                    TimeConditioning = parse.GetValue(timeConditioning) ?? network.TimeConditioning,
                };
            }
            var pipeline = pipelineStart.Append(mlContext.Diffusion().Trainers.UViT(options));
            var model = pipeline.Fit(view);
            stop.Dispose();
            bar.Done();
            Console.WriteLine($"trained in {clock.Elapsed:mm\\:ss}");
            string lossPng = Path.Combine(outputFolder, "loss.png");
            string dataName = parse.GetValue(data) is { } folder ? new DirectoryInfo(folder).Name : "MNIST";
            losses.Save(lossPng, $"uvit train: training loss ({dataName}, batch {options.BatchSize})");
            if (losses.Count > 0) Console.WriteLine($"wrote {lossPng}");

            string zip = Path.Combine(outputFolder, "model.zip");
            mlContext.Model.SaveAtomically(model, model.GenerationRequestSchema(), zip);   // what generation reads, not the training data
            Console.WriteLine($"saved {zip} ({new FileInfo(zip).Length / 1024} KiB)");

            // Generate from the saved file, in a fresh MLContext, as a user would.
            var fresh = new MLContext(seed: 0).RegisterUViT();
            var loaded = fresh.Model.Load(zip, out _);
            var generator = GenerationHelpers.FindGenerator(loaded);
            string grid = Path.Combine(outputFolder, "samples.png");
            var genClock = Stopwatch.StartNew();
            GenerationHelpers.WriteClassGrid(fresh, loaded, generator, grid, parse.GetValue(perClass), baseSeed: 1000);
            Console.WriteLine($"generated {generator.Generator.ClassCount * parse.GetValue(perClass)} images in {genClock.Elapsed:mm\\:ss} " +
                              $"({generator.Settings.Summary})");
            Console.WriteLine($"wrote {grid}");
            if (parse.GetValue(data) is null)
            {
                // The same digits and report as `uvit judge model.zip` with its defaults.
                Console.WriteLine($"digit check: {JudgedPerClass * generator.Generator.ClassCount} more digits for the digit judge (`uvit judge` repeats this check)");
                var outcome = DigitJudging.Run(fresh, loaded, generator, JudgedPerClass, seed: 0, ShippedMnist.JudgePath);
                foreach (string line in DigitJudging.Lines(outcome)) Console.WriteLine(line);
            }
            Console.WriteLine($"total {clock.Elapsed:mm\\:ss}");
            return 0;
        }));
        return command;
    }

    /// <summary>
    /// The sampling options of <c>uvit train</c> with its defaults (DDIM with eta 2, 50 steps, guidance s = 1); <c>uvit ablate</c>
    /// shares them. Fresh noise at every step cleans up the grain and broken strokes a 10-minute model leaves under a
    /// deterministic sampler, and twice DDPM's noise (eta 2) cleans up more, with weaker guidance keeping the digits varied
    /// (measured on MNIST over three training seeds; docs/short-runs.md).
    /// </summary>
    internal static SamplingOptions CreateSamplingOptions() => SamplingOptions.Create(defaultGuidance: 1.0, defaultSteps: 50, SamplerKind.Ddim, defaultDdimEta: 2);

    private static int DistinctClasses(string? folder) => folder is null ? 10 : ImageFolder.List(folder).Select(e => e.ClassName).Distinct().Count();

    /// <summary>Digits per class the end-of-run digit check generates (500 in all; <c>uvit judge</c>'s default).</summary>
    private const int JudgedPerClass = 50;

    /// <summary>The training view and the transforms that turn it into an image column + key label.</summary>
    private static (IDataView View, IEstimator<ITransformer> Pipeline, string Description) LoadData(MLContext mlContext, string? folder, int size, bool grayscale)
    {
        if (folder is null)
        {
            var digits = ShippedMnist.Read();
            return (digits.ToDataView(mlContext), new EstimatorChain<ITransformer>(), $"{digits.Count} MNIST digits ({digits.Height}x{digits.Width}, {digits.ClassCount} classes) from {ShippedMnist.Folder}");
        }
        var files = ImageFolder.List(folder);
        var view = mlContext.Data.LoadFromEnumerable(files);
        var pipeline = mlContext.Transforms.LoadImages("Raw", folder, nameof(ImageFolder.Entry.Path))
            .Append(mlContext.Transforms.ResizeImages("Resized", size, size, "Raw"))
            .Append(mlContext.Transforms.ConvertToGrayscale("Grey", "Resized"))
            .Append(mlContext.Transforms.ExtractPixels("Image", grayscale ? "Grey" : "Resized",
                                                       grayscale ? Microsoft.ML.Transforms.Image.ImagePixelExtractingEstimator.ColorBits.Red
                                                                 : Microsoft.ML.Transforms.Image.ImagePixelExtractingEstimator.ColorBits.Rgb))
            .Append(mlContext.Transforms.Conversion.MapValueToKey("Label", nameof(ImageFolder.Entry.ClassName)));
        int classes = files.Select(f => f.ClassName).Distinct().Count();
        return (view, pipeline, $"{files.Count} images in {classes} classes from {folder}, resized to {size}x{size}{(grayscale ? ", grey" : "")}");
    }
}
