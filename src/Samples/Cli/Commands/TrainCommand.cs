using System.CommandLine;
using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Data;
using UViT.MLNet.Core.Generation;
using UViT.MLNet.Estimators;
using UViT.MLNet.Transforms.Data;
using UViT.MLNet.Transforms.Generation;
using UViT.MLNet.Transforms.Persistence;

namespace UViT.MLNet.Cli.Commands;

/// <summary>
/// <c>uvit train</c>: the main job. Trains a class-conditional U-ViT through the ML.NET pipeline (on the shipped MNIST digits
/// by default, or on a folder with one subfolder per class), saves the model zip, loads it back in a fresh MLContext,
/// generates every class with guidance and writes a PNG grid.
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
        var sampling = SamplingOptions.Create(defaultGuidance: 2.0, defaultSteps: 30);
        var perClass = new Option<int>("--per-class") { Description = "Samples per class in the grid.", DefaultValueFactory = _ => 8 };
        var threads = new Option<int?>("--threads") { Description = "libtorch CPU threads (default: all cores)." };

        var command = new Command("train", "Train a class-conditional U-ViT through the ML.NET pipeline, save model.zip, reload it and write a sample grid.")
        {
            data, size, grayscale, steps, minutes, batch, output, device, seed, resume, perClass, threads,
        };
        sampling.AddTo(command);
        command.SetAction(parse => CliErrors.Run(() =>
        {
            if (parse.GetValue(threads) is int t) TorchSharp.torch.set_num_threads(t);
            string outputFolder = Path.GetFullPath(parse.GetValue(output)!);
            Directory.CreateDirectory(outputFolder);
            var clock = Stopwatch.StartNew();
            var mlContext = new MLContext(seed: 0);

            var (view, pipelineStart, description) = LoadData(mlContext, parse.GetValue(data), parse.GetValue(size), parse.GetValue(grayscale));
            Console.WriteLine($"data: {description}");
            using var cancel = parse.GetValue(minutes) is double m ? new CancellationTokenSource(TimeSpan.FromMinutes(m)) : new CancellationTokenSource();
            var bar = new ConsoleProgressBar("training");
            var options = new UViTTrainerOptions
            {
                MaxSteps = parse.GetValue(steps),
                BatchSize = parse.GetValue(batch),
                Seed = parse.GetValue(seed),
                Device = parse.GetValue(device)!,
                CheckpointDirectory = Path.Combine(outputFolder, "checkpoint"),
                Resume = parse.GetValue(resume),
                Sampling = sampling.Read(parse),
                ReportInterval = 10,
                Progress = new InlineProgress<TrainingProgress>(p => bar.Update(p.Step, p.TotalSteps, $"loss {p.Loss:F4}")),
                CancellationToken = cancel.Token,
            };
            var pipeline = pipelineStart.Append(mlContext.Diffusion().Trainers.UViT(options));
            var model = pipeline.Fit(view);
            bar.Done();
            Console.WriteLine($"trained in {clock.Elapsed:mm\\:ss}");

            string zip = Path.Combine(outputFolder, "model.zip");
            mlContext.Model.Save(model, view.Schema, zip);
            Console.WriteLine($"saved {zip} ({new FileInfo(zip).Length / 1024} KiB)");

            // Generate from the saved file, in a fresh MLContext, as a user would.
            var fresh = new MLContext(seed: 0).RegisterUViT();
            var loaded = fresh.Model.Load(zip, out _);
            var generator = GenerationHelpers.FindGenerator(loaded);
            string grid = Path.Combine(outputFolder, "samples.png");
            var genClock = Stopwatch.StartNew();
            GenerationHelpers.WriteClassGrid(fresh, generator, grid, parse.GetValue(perClass), baseSeed: 1000);
            Console.WriteLine($"generated {generator.Generator.ClassCount * parse.GetValue(perClass)} images in {genClock.Elapsed:mm\\:ss} " +
                              $"({generator.Settings.Sampler}, {generator.Settings.Steps} steps, guidance s = {generator.Settings.GuidanceScale}, {(generator.Settings.UseEmaWeights ? "EMA" : "raw")} weights)");
            Console.WriteLine($"wrote {grid}");
            Console.WriteLine($"total {clock.Elapsed:mm\\:ss}");
            return 0;
        }));
        return command;
    }

    /// <summary>The training view and the transforms that turn it into an image column + key label.</summary>
    private static (IDataView View, IEstimator<ITransformer> Pipeline, string Description) LoadData(MLContext mlContext, string? folder, int size, bool grayscale)
    {
        if (folder is null)
        {
            string mnist = Path.Combine(AppContext.BaseDirectory, "data", "mnist");
            var digits = IdxImageDataset.Read(Path.Combine(mnist, "images-idx3-ubyte.gz"), Path.Combine(mnist, "labels-idx1-ubyte.gz"));
            return (digits.ToDataView(mlContext), new EstimatorChain<ITransformer>(), $"{digits.Count} MNIST digits ({digits.Height}x{digits.Width}, {digits.ClassCount} classes) from {mnist}");
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
