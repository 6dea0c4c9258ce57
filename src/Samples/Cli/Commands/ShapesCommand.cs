using System.CommandLine;
using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Data;
using UViT.MLNet.Core.Text;
using UViT.MLNet.Estimators;
using UViT.MLNet.Samples;
using UViT.MLNet.Transforms.Generation;
using UViT.MLNet.Transforms.Persistence;
using UViT.MLNet.Transforms.Text;

namespace UViT.MLNet.Cli.Commands;

/// <summary>
/// <c>uvit shapes</c>: the text-to-image sample. Makes a captioned toy set (coloured circles, squares and triangles, three
/// captions each), trains a text-conditioned U-ViT through EncodeText -> trainer, saves the prompt pipeline
/// (EncodeText -> generation) as one zip, reloads it, draws every prompt and measures whether the images show the colour
/// and shape the prompt asked for.
/// </summary>
internal static class ShapesCommand
{
    public static Command Create()
    {
        var count = new Option<int>("--count") { Description = "Training images to make (every colour and shape equally often).", DefaultValueFactory = _ => 1200 };
        var size = new Option<int>("--image-size") { Description = "Image side in pixels.", DefaultValueFactory = _ => 16 };
        var jitter = new Option<double>("--jitter") { Description = "How much shape size and position vary, 0 to 1 (1: anywhere; needs many more steps).", DefaultValueFactory = _ => 0.25 };
        var steps = new Option<int>("--steps") { Description = "Optimiser steps.", DefaultValueFactory = _ => 1500 };
        var batch = new Option<int>("--batch-size") { Description = "Images per step.", DefaultValueFactory = _ => 64 };
        var clip = new Option<string?>("--clip") { Description = "A CLIP model folder (config.json, vocab.json, merges.txt, model.safetensors), e.g. openai/clip-vit-large-patch14. Default: the shipped CLIP tokenizer with a small random text tower." };
        var output = new Option<string>("--output", "-o") { Description = "Folder for model.zip, shapes.png and the training checkpoint.", DefaultValueFactory = _ => Path.Combine("outputs", "shapes") };
        var device = new Option<string>("--device") { Description = "cpu, cuda or cuda:N.", DefaultValueFactory = _ => "cpu" };
        var seed = new Option<long>("--seed") { Description = "Seed of the data, initialisation and noise.", DefaultValueFactory = _ => 0 };
        var perPrompt = new Option<int>("--per-prompt") { Description = "Samples per prompt in the grid.", DefaultValueFactory = _ => 8 };
        var threads = new Option<int?>("--threads") { Description = "libtorch CPU threads (default: all cores)." };
        var sampling = SamplingOptions.Create(defaultGuidance: 1.0, defaultSteps: 25);

        var command = new Command("shapes", "Train a text-conditioned U-ViT on captioned coloured shapes made on the fly, then draw every prompt and check the images follow it.")
        {
            count, size, jitter, steps, batch, clip, output, device, seed, perPrompt, threads,
        };
        sampling.AddTo(command);
        command.SetAction(parse => CliErrors.Run(() =>
        {
            LibTorchThreads.Apply(parse.GetValue(threads));
            string outputFolder = Path.GetFullPath(parse.GetValue(output)!);
            Directory.CreateDirectory(outputFolder);
            var clock = Stopwatch.StartNew();
            var mlContext = new MLContext(seed: 0);

            var rows = ToyShapes.Generate(parse.GetValue(count), parse.GetValue(size), (int)parse.GetValue(seed), parse.GetValue(jitter));
            var view = ToyShapes.ToDataView(mlContext, rows);
            var text = parse.GetValue(clip) is { } folder ? ClipTextFiles.FromFolder(folder) : SmallRandomTextTower(Path.Combine(outputFolder, "text-encoder"));
            Console.WriteLine($"data: {rows.Count} {parse.GetValue(size)}x{parse.GetValue(size)} shapes, 3 captions each (\"{rows[0].Captions[0]}\", \"{rows[0].Captions[1]}\", ...); text encoder: {text.Config}");

            var bar = new ConsoleProgressBar("training");
            var losses = new LossPlot();
            var options = new UViTTrainerOptions
            {
                MaxSteps = parse.GetValue(steps), BatchSize = parse.GetValue(batch), Seed = parse.GetValue(seed), Device = parse.GetValue(device)!,
                CheckpointDirectory = Path.Combine(outputFolder, "checkpoint"), Resume = false, Sampling = sampling.Read(parse),
                ReportInterval = 10,
                Progress = new SynchronousProgress<TrainingProgress>(p => { bar.Update(p.Step, p.TotalSteps, $"loss {p.Loss:F4}"); losses.Add(p); }),
            };
            var encodeCaptions = mlContext.Transforms.EncodeText(text, new TextEncodingOptions { InputColumnName = nameof(ToyShapes.Row.Captions), Device = options.Device, BatchSize = 64 });
            using var trained = encodeCaptions.Append(mlContext.Diffusion().Trainers.UViT(options)).Fit(view);
            bar.Done();
            Console.WriteLine($"trained in {clock.Elapsed:mm\\:ss}");
            string lossPng = Path.Combine(outputFolder, "loss.png");
            losses.Save(lossPng, "uvit shapes: training loss (captioned toy shapes)");
            if (losses.Count > 0) Console.WriteLine($"wrote {lossPng}");

            // The prompt pipeline a user keeps: prompt -> EncodeText -> U-ViT generation, one zip.
            var prompts = Enumerable.Range(0, ToyShapes.Shapes.Count).SelectMany(s => Enumerable.Range(0, ToyShapes.Colours.Count).Select(c => (Colour: c, Shape: s))).ToList();
            var requests = prompts.SelectMany((p, i) => Enumerable.Range(0, parse.GetValue(perPrompt)).Select(k => new PromptRow
            {
                Prompt = ToyShapes.Caption(p.Colour, p.Shape), Seed = 1000 + i * 100 + k, Colour = p.Colour, Shape = p.Shape,
            })).ToList();
            var requestView = mlContext.Data.LoadFromEnumerable(requests);
            var encodePrompts = mlContext.Transforms.EncodeText(text, new TextEncodingOptions { InputColumnName = nameof(PromptRow.Prompt), Device = options.Device }).Fit(requestView);
            var promptPipeline = new TransformerChain<ITransformer>(encodePrompts, trained.LastTransformer);
            string zip = Path.Combine(outputFolder, "model.zip");
            mlContext.Model.SaveAtomically(promptPipeline, promptPipeline.GenerationRequestSchema(), zip);
            Console.WriteLine($"saved {zip} ({new FileInfo(zip).Length / 1024} KiB: tokenizer, text encoder, U-ViT)");

            var fresh = new MLContext(seed: 0).RegisterUViT();
            var loaded = GenerationHelpers.LoadModel(fresh, zip);
            var generator = GenerationHelpers.FindGenerator(loaded);
            var genClock = Stopwatch.StartNew();
            var samples = GenerationHelpers.Generate(fresh, loaded, generator, requests.Select(r => new SampleRequest(r.Seed, Prompt: r.Prompt)).ToList());
            var (images, pixels) = (samples.Select(s => s.Image).ToList(), samples.Select(s => s.Pixels).ToList());
            string grid = Path.Combine(outputFolder, "shapes.png");
            GenerationHelpers.SaveGrid(grid, images, parse.GetValue(perPrompt), prompts.Select(p => ToyShapes.Caption(p.Colour, p.Shape)).ToList());
            Console.WriteLine($"generated {images.Count} images in {genClock.Elapsed:mm\\:ss} ({generator.Settings.Sampler}, {generator.Settings.Steps} steps, guidance s = {generator.Settings.GuidanceScale}); wrote {grid}");

            var verdicts = pixels.Select(ToyShapes.Judge).ToList();
            double colourHits = requests.Where((r, i) => verdicts[i]?.Colour == r.Colour).Count() / (double)requests.Count;
            double shapeHits = requests.Where((r, i) => verdicts[i]?.Shape == r.Shape).Count() / (double)requests.Count;
            double bothHits = requests.Where((r, i) => verdicts[i] == (r.Colour, r.Shape)).Count() / (double)requests.Count;
            Console.WriteLine($"prompt check (colour from the mean foreground pixel, shape from how much of its bounding box it fills): " +
                              $"colour {colourHits:P0}, shape {shapeHits:P0}, both {bothHits:P0} of {requests.Count} images (chance: 25%, 33%, 8%)");
            Console.WriteLine($"total {clock.Elapsed:mm\\:ss}");
            (loaded as IDisposable)?.Dispose();
            return 0;
        }));
        return command;
    }

    private sealed class PromptRow
    {
        public string Prompt { get; set; } = "";
        public long Seed { get; set; }
        public int Colour { get; set; }
        public int Shape { get; set; }
    }

    /// <summary>The shipped CLIP tokenizer files with a small random frozen tower (<see cref="ClipTextFiles.WithRandomTower"/>).</summary>
    private static ClipTextFiles SmallRandomTextTower(string folder)
    {
        string data = Path.Combine(AppContext.BaseDirectory, "data", "clip");
        return ClipTextFiles.WithRandomTower(Path.Combine(data, "vocab.json"), Path.Combine(data, "merges.txt"), folder);
    }
}
