using System.CommandLine;
using System.Globalization;
using Microsoft.ML;
using UViT.MLNet.Core.Evaluation;
using UViT.MLNet.Transforms.Evaluation;

namespace UViT.MLNet.Cli.Commands;

/// <summary>
/// <c>uvit fid stats|compare|model|merge</c>: FID reference statistics of an image folder, the FID between two folders or
/// statistics files, the FID of samples generated from a saved model, and the merge of per-shard sums.
/// </summary>
internal static class FidCommand
{
    public static Command Create() => new("fid", "Frechet Inception Distance (pytorch-fid's Inception network, pool3 features).")
    {
        CreateStats(), CreateCompare(), FidModelCommand.Create(), FidMergeCommand.Create(),
    };

    private static Command CreateStats()
    {
        var folder = new Argument<DirectoryInfo>("folder") { Description = "A folder of images (searched recursively)." };
        var output = new Option<string>("--output", "-o") { Description = "The .npz statistics file to write (keys mu, sigma).", Required = true };
        var common = new FidOptionsCli();
        var command = new Command("stats", "Compute FID statistics (mu, sigma of pool3 features) of a folder of images and write them as .npz.") { folder, output };
        common.AddTo(command);
        command.SetAction(parse => CliErrors.Run(() =>
        {
            var mlContext = new MLContext(seed: 0);
            using var evaluator = common.CreateEvaluator(parse, new FidOptions { ImageColumnName = FidInputs.ImageColumn });
            var statistics = FidInputs.Statistics(mlContext, evaluator, parse.GetValue(folder)!.FullName);
            string path = Path.GetFullPath(parse.GetValue(output)!);
            FidStatisticsFile.Write(path, statistics);
            Console.WriteLine($"wrote {path} ({statistics.Dimension}-d statistics)");
            return 0;
        }));
        return command;
    }

    private static Command CreateCompare()
    {
        var first = new Argument<string>("first") { Description = "A folder of images or an .npz statistics file." };
        var second = new Argument<string>("second") { Description = "A folder of images or an .npz statistics file." };
        var common = new FidOptionsCli();
        var command = new Command("compare", "FID between two folders of images or .npz statistics files.") { first, second };
        common.AddTo(command);
        command.SetAction(parse => CliErrors.Run(() =>
        {
            var mlContext = new MLContext(seed: 0);
            using var evaluator = common.CreateEvaluator(parse, new FidOptions { ImageColumnName = FidInputs.ImageColumn });
            var a = FidInputs.Statistics(mlContext, evaluator, parse.GetValue(first)!);
            var b = FidInputs.Statistics(mlContext, evaluator, parse.GetValue(second)!);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"FID {FrechetDistance.Compute(a, b):F4}"));
            return 0;
        }));
        return command;
    }
}
