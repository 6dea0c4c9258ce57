using System.CommandLine;
using System.Diagnostics;
using Microsoft.ML;
using UViT.MLNet.Transforms.Persistence;

namespace UViT.MLNet.Cli.Commands;

/// <summary><c>uvit sample MODEL.zip</c>: loads a saved model and writes a grid with every class (or unconditional samples).</summary>
internal static class SampleCommand
{
    public static Command Create()
    {
        var model = new Argument<FileInfo>("model") { Description = "A model.zip written by `uvit train` or mlContext.Model.Save." };
        var output = new Option<string>("--output", "-o") { Description = "The PNG grid to write.", DefaultValueFactory = _ => "samples.png" };
        var perClass = new Option<int>("--per-class") { Description = "Samples per class (grid columns).", DefaultValueFactory = _ => 10 };
        var seed = new Option<long>("--seed") { Description = "Seed of the first sample; sample i uses seed + i.", DefaultValueFactory = _ => 1000 };
        var batch = new Option<int?>("--batch-size") { Description = "Images per sampler run (default: the model's setting)." };
        var sampling = SamplingOptions.Create(defaultGuidance: 2.0, defaultSteps: 30);
        var command = new Command("sample", "Generate a grid of images from a saved model zip (settings default to those saved in the model).")
        {
            model, output, perClass, seed, batch,
        };
        sampling.AddTo(command);
        command.SetAction(parse => CliErrors.Run(() =>
        {
            var mlContext = new MLContext(seed: 0).RegisterUViT();
            var generator = GenerationHelpers.FindGenerator(GenerationHelpers.LoadModel(mlContext, parse.GetValue(model)!.FullName));
            generator.Settings = sampling.Override(parse, generator.Settings);
            if (parse.GetValue(batch) is int b) generator.BatchSize = b;
            var clock = Stopwatch.StartNew();
            string grid = Path.GetFullPath(parse.GetValue(output)!);
            var samples = GenerationHelpers.WriteClassGrid(mlContext, generator, grid, parse.GetValue(perClass), parse.GetValue(seed));
            Console.WriteLine($"generated {samples.Count} images in {clock.Elapsed:mm\\:ss} ({generator.Settings.Sampler}, {generator.Settings.Steps} steps, " +
                              $"guidance s = {generator.Settings.GuidanceScale}, {(generator.Settings.UseEmaWeights ? "EMA" : "raw")} weights); wrote {grid}");
            return 0;
        }));
        return command;
    }
}
