using System.CommandLine;
using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;
using UViT.MLNet.Core.Evaluation;
using UViT.MLNet.Transforms.Evaluation;
using UViT.MLNet.Transforms.Generation;
using UViT.MLNet.Transforms.Latents;
using UViT.MLNet.Transforms.Persistence;

namespace UViT.MLNet.Cli.Commands;

/// <summary>
/// <c>uvit fid model MODEL.zip --reference ref.npz --samples N</c>: generates N images (classes in turn, seeds seed + i)
/// and measures their FID in the same streaming pass, printing the settings beside the number.
/// </summary>
internal static class FidModelCommand
{
    public static Command Create()
    {
        var model = new Argument<FileInfo>("model") { Description = "A model.zip written by `uvit train` or mlContext.Model.Save." };
        var reference = new Option<FileInfo>("--reference", "-r") { Description = "Reference statistics (.npz with mu, sigma).", Required = true };
        var samples = new Option<int>("--samples", "-n") { Description = "Images to generate (the paper's protocol: 50000).", DefaultValueFactory = _ => 50000 };
        var seed = new Option<long>("--seed") { Description = "Seed of the first sample; sample i uses seed + i.", DefaultValueFactory = _ => 0 };
        var batch = new Option<int?>("--batch-size") { Description = "Images per sampler run (default: the model's setting)." };
        var inceptionScore = new Option<bool>("--inception-score") { Description = "Also report the Inception Score of the samples (10 splits)." };
        var prompts = new Option<FileInfo?>("--prompts") { Description = "Text models: a file of prompts, one a line; sample i draws prompt i mod P (e.g. the reference set's captions)." };
        var sampling = SamplingOptions.ForSavedModel();
        var common = new FidOptionsCli();
        var command = new Command("model", "Generate samples from a saved model and compute their FID against reference statistics (settings default to those saved in the model).")
        {
            model, reference, samples, seed, batch, inceptionScore, prompts,
        };
        sampling.AddTo(command);
        common.AddTo(command);
        command.SetAction(parse => CliErrors.Run(() =>
        {
            int count = parse.GetValue(samples);
            if (count < 2) throw new ArgumentException($"--samples must be at least 2; got {count}.");
            string modelPath = parse.GetValue(model)!.FullName, referencePath = parse.GetValue(reference)!.FullName;
            var statistics = FidStatisticsFile.Read(referencePath);
            var mlContext = ModelDevice.Context(common.Device(parse));   // the model runs where Inception does
            var loaded = GenerationHelpers.LoadModel(mlContext, modelPath);
            var original = GenerationHelpers.FindGenerator(loaded);
            var generator = original.WithSampling(sampling.Override(parse, original.Settings));
            if (parse.GetValue(batch) is int b) generator = generator.WithBatchSize(b);
            var s = generator.Settings;
            var settings = new Dictionary<string, string>
            {
                ["model"] = modelPath, ["reference"] = referencePath, ["sampler"] = s.Sampler.ToString(),
                ["steps"] = s.Steps.ToString(CultureInfo.InvariantCulture), ["guidance_s"] = s.GuidanceScale.ToString(CultureInfo.InvariantCulture),
                ["weights"] = s.UseEmaWeights ? "EMA" : "raw", ["seed"] = parse.GetValue(seed).ToString(CultureInfo.InvariantCulture),
                ["labels"] = generator.Generator.ClassCount > 0 ? "class i mod " + generator.Generator.ClassCount : "unconditional",
            };
            var promptList = parse.GetValue(prompts) is { } file ? File.ReadAllLines(file.FullName).Select(l => l.Trim()).Where(l => l.Length > 0).ToList() : [];
            bool text = GenerationHelpers.FindTextEncoder(loaded) is not null;
            if (text != promptList.Count > 0)
                throw new ArgumentException(text ? "This is a text model: give --prompts FILE (one prompt a line)." : "--prompts needs a text model.");
            if (text) settings["labels"] = $"prompt i mod {promptList.Count} from {parse.GetValue(prompts)!.FullName}";
            var (images, column, range) = Samples(mlContext, loaded, generator, count, parse.GetValue(seed), promptList);
            using var evaluator = common.CreateEvaluator(parse, new FidOptions
            {
                ImageColumnName = column, InputRange = range, ComputeInceptionScore = parse.GetValue(inceptionScore), Settings = settings,
            });
            var bar = new ConsoleProgressBar("sampling + FID");
            var result = evaluator.Evaluate(images, statistics, FidInputs.Progress(bar));
            bar.Done();
            foreach (var (key, value) in result.Settings) Console.WriteLine($"{key + ":",-12} {value}");
            Console.WriteLine(result.InceptionScore is { } score
                ? string.Create(CultureInfo.InvariantCulture, $"FID {result.Fid:F4} from {result.SampleCount} samples; IS {score.Mean:F3} +- {score.StandardDeviation:F3}")
                : string.Create(CultureInfo.InvariantCulture, $"FID {result.Fid:F4} from {result.SampleCount} samples"));
            return 0;
        }));
        return command;
    }

    /// <summary>
    /// The lazy view of <paramref name="count"/> generated images (class i mod classes, or prompt i mod prompts for text models)
    /// and where their pixels are; nothing is sampled until it is read.
    /// </summary>
    private static (IDataView Images, string Column, PixelRange Range) Samples(MLContext mlContext, ITransformer loaded, UViTGenerationTransformer generator, int count, long seed,
                                                                              IReadOnlyList<string> prompts)
    {
        int classes = Math.Max(1, generator.Generator.ClassCount);
        var requests = Enumerable.Range(0, count).Select(i => new SampleRequest(seed + i, i % classes, prompts.Count > 0 ? prompts[i % prompts.Count] : "")).ToList();
        var (view, pixels, _, range) = GenerationHelpers.Run(mlContext, loaded, generator, requests, progress: null);
        return (view, pixels, range);
    }
}
