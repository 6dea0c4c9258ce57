using System.CommandLine;
using UViT.MLNet.Core.Evaluation;

namespace UViT.MLNet.Cli.Commands;

/// <summary>
/// <c>uvit fid merge SHARD.npz... -o stats.npz</c>: adds the per-shard FID sums that <c>uvit sample --fid-stats</c> writes into
/// the mu/sigma statistics of the whole sample set (what one pass over all images gives, up to float64 rounding), in the
/// format <c>uvit fid compare</c> and pytorch-fid read. A shard given twice is refused; missing shards are reported.
/// </summary>
internal static class FidMergeCommand
{
    public static Command Create()
    {
        var shards = new Argument<FileInfo[]>("shards") { Description = "Shard statistics files written by `uvit sample --fid-stats`.", Arity = ArgumentArity.OneOrMore };
        var output = new Option<string>("--output", "-o") { Description = "The .npz statistics file to write (keys mu, sigma).", Required = true };
        var command = new Command("merge", "Combine per-shard FID sums (uvit sample --fid-stats) into the mu/sigma .npz of the whole set.") { shards, output };
        command.SetAction(parse => CliErrors.Run(() =>
        {
            var parts = parse.GetValue(shards)!.Select(f => (f.FullName, File: FeatureSumsFile.Read(f.FullName))).ToList();
            var seen = new Dictionary<(int, int), string>();
            foreach (var (path, file) in parts)
            {
                if (seen.TryGetValue((file.ShardIndex, file.ShardCount), out string? earlier))
                    throw new ArgumentException($"'{path}' and '{earlier}' are both shard {file.ShardIndex}/{file.ShardCount}: its images would count twice.");
                seen[(file.ShardIndex, file.ShardCount)] = path;
            }
            foreach (int count in seen.Keys.Select(k => k.Item2).Distinct())
            {
                var missing = Enumerable.Range(0, count).Where(k => !seen.ContainsKey((k, count))).ToList();
                if (missing.Count > 0) Console.WriteLine($"warning: shards {string.Join(", ", missing.Select(k => $"{k}/{count}"))} are not among the inputs; merging the rest.");
            }
            var merged = FeatureSums.Merge(parts.Select(p => p.File.Sums).ToList());
            if (merged.Count < 2) throw new ArgumentException($"The shard files hold {merged.Count} image(s) in all; FID statistics need at least 2.");
            string target = Path.GetFullPath(parse.GetValue(output)!);
            FidStatisticsFile.Write(target, merged.ToStatistics());
            Console.WriteLine($"wrote {target} ({merged.Dimension}-d statistics of {merged.Count} images from {parts.Count} shard files)");
            return 0;
        }));
        return command;
    }
}
