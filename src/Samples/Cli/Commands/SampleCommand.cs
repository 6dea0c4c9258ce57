using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;
using UViT.MLNet.Core.Evaluation;
using UViT.MLNet.Core.Runtime;
using UViT.MLNet.Transforms.Evaluation;
using UViT.MLNet.Transforms.Persistence;

namespace UViT.MLNet.Cli.Commands;

/// <summary>
/// <c>uvit sample MODEL.zip</c>: loads a saved class, unconditional or text model and writes a PNG grid of the classes or prompts
/// asked for (one row each); or, with --out-dir, one PNG per image for one shard of the job (restartable), optionally with
/// mergeable FID sums of the shard's images.
/// </summary>
internal static class SampleCommand
{
    public static Command Create()
    {
        var model = new Argument<FileInfo>("model") { Description = "A model.zip written by `uvit train`, `uvit shapes` or mlContext.Model.Save." };
        var output = new Option<string?>("--output", "-o") { Description = "The PNG grid to write (default: samples.png; with --out-dir only when given: a grid of the shard's images)." };
        var count = new Option<int>("--count", "--per-class") { Description = "Images per class or prompt (unconditional models: in all); one grid row each.", DefaultValueFactory = _ => 10 };
        var classes = new Option<string[]>("--class") { Description = "A class to draw, by index or name; repeatable (default: every class). Class models only." };
        var prompts = new Option<string[]>("--prompt") { Description = "A prompt to draw; repeatable. Text models need a prompt here or in --prompts." };
        var promptFile = new Option<FileInfo?>("--prompts") { Description = "A text file of prompts, one a line (blank lines skipped)." };
        var outDir = new Option<string?>("--out-dir") { Description = "Write each image as its own PNG (class03-seed000123.png) into this folder, with a manifest; images already there are skipped." };
        var seed = new Option<long>("--seed") { Description = "Seed of the first image; image i uses seed + i.", DefaultValueFactory = _ => 1000 };
        var batch = new Option<int?>("--batch-size") { Description = "Images per sampler run (default: the model's)." };
        var shard = new Option<string?>("--shard") { Description = "K/N: generate only rows i with i mod N == K of the full list (needs --out-dir). Default: from JOB_COMPLETION_INDEX (with --shards) or the Slurm array variables, else 0/1." };
        var shards = new Option<int?>("--shards") { Description = "The shard count N, for Kubernetes Indexed Jobs (JOB_COMPLETION_INDEX gives only K)." };
        var fidStats = new Option<string?>("--fid-stats") { Description = "Also write this shard's mergeable FID sums (.npz: count, sum, sum of outer products of Inception pool3 features); combine with `uvit fid merge`." };
        var fidWeights = new Option<FileInfo?>("--fid-weights") { Description = "FID Inception weights for --fid-stats (as `uvit fid --weights`)." };
        var fidDevice = new Option<string>("--fid-device") { Description = "Device of the Inception network for --fid-stats: cpu, cuda or cuda:N.", DefaultValueFactory = _ => "cpu" };
        var device = ModelDevice.Create();
        var sampling = SamplingOptions.ForSavedModel();
        var command = new Command("sample", "Generate images from a saved model zip (class, unconditional or text model); sampling settings default to those saved in the model.")
        {
            model, output, count, classes, prompts, promptFile, outDir, seed, batch, shard, shards, fidStats, fidWeights, fidDevice, device,
        };
        sampling.AddTo(command);
        command.SetAction(parse => CliErrors.Run(() =>
        {
            string? folder = parse.GetValue(outDir);
            if (folder is null && (parse.GetValue(shard) is not null || parse.GetValue(shards) is not null || parse.GetValue(fidStats) is not null))
                throw new ArgumentException("--shard, --shards and --fid-stats need --out-dir: the images are written there, one PNG each.");
            // Job-engine variables shard only per-image output: a grid run inside an array job stays whole.
            var (assignment, source) = folder is null ? (ShardAssignment.Whole, "")
                : ShardAssignment.Resolve(parse.GetValue(shard), parse.GetValue(shards), Environment.GetEnvironmentVariable);
            var fid = FidSettings(parse.GetValue(fidStats), parse.GetValue(fidWeights), parse.GetValue(fidDevice)!);
            var mlContext = ModelDevice.Context(parse.GetValue(device)!);
            var loaded = GenerationHelpers.LoadModel(mlContext, parse.GetValue(model)!.FullName);
            var original = GenerationHelpers.FindGenerator(loaded);
            var generator = original.WithSampling(sampling.Override(parse, original.Settings));
            if (parse.GetValue(batch) is int b) generator = generator.WithBatchSize(b);
            int perRow = parse.GetValue(count);
            int most = folder is null ? 1000 : 1_000_000;
            if (perRow < 1 || perRow > most) throw new ArgumentException($"--count must lie in [1, {most}]{(folder is null ? " (a grid; use --out-dir for more)" : "")}; got {perRow}.");
            var rows = Rows(loaded, original, parse.GetValue(classes) ?? [], Prompts(parse.GetValue(prompts), parse.GetValue(promptFile)));
            long first = parse.GetValue(seed);
            var clock = Stopwatch.StartNew();
            var s = generator.Settings;
            string settings = $"({s.Summary})";
            if (folder is not null)
            {
                var all = FullList(rows, perRow, first, original.Generator.ClassCount);
                var (mine, skipped) = ShardedSampling.Write(mlContext, loaded, generator, all, assignment, folder);
                Console.WriteLine($"shard {assignment} (from {source}): {mine.Count} of {all.Count} images, {skipped} already present, " +
                                  $"{mine.Count - skipped} generated in {clock.Elapsed:mm\\:ss} {settings}; wrote {Path.GetFullPath(folder)}");
                if (fid is { } f) WriteFidSums(mlContext, folder, mine, assignment, f);
                if (parse.GetValue(output) is { } shardGrid && mine.Count > 0)
                {
                    var images = mine.Select(r => (MLImage?)MLImage.CreateFromFile(Path.Combine(folder, r.File))).ToList();
                    GenerationHelpers.SaveGrid(Path.GetFullPath(shardGrid), images, assignment.Count == 1 ? perRow : Math.Min(perRow, mine.Count), null);
                    Console.WriteLine($"wrote {Path.GetFullPath(shardGrid)}");
                }
                return 0;
            }
            var requests = rows.SelectMany((row, r) => Enumerable.Range(0, perRow).Select(i => row.Request with { Seed = first + r * perRow + i })).ToList();
            var samples = GenerationHelpers.Generate(mlContext, loaded, generator, requests);
            string grid = Path.GetFullPath(parse.GetValue(output) ?? "samples.png");
            GenerationHelpers.SaveGrid(grid, samples.Select(x => x.Image).ToList(), perRow, rows.Any(r => r.Caption.Length > 0) ? rows.Select(r => r.Caption).ToList() : null);
            Console.WriteLine($"generated {samples.Count} images in {clock.Elapsed:mm\\:ss} {settings}; wrote {grid}");
            return 0;
        }));
        return command;
    }

    /// <summary>
    /// Every (class or prompt, seed) row of the job in one order, the same in every shard: grid row r, image i has seed
    /// first + r * perRow + i (as the grid has always used).
    /// </summary>
    private static List<SampleRow> FullList(List<(SampleRequest Request, string Caption)> rows, int perRow, long first, int classCount)
    {
        bool text = rows.Any(r => r.Request.Prompt.Length > 0);
        string? kind = text ? "prompt" : classCount > 0 ? "class" : null;
        int digits = Math.Max(text ? 3 : 2, (Math.Max(text ? rows.Count : classCount, 1) - 1).ToString(CultureInfo.InvariantCulture).Length);
        var list = new List<SampleRow>(rows.Count * perRow);
        for (int r = 0; r < rows.Count; r++)
            for (int i = 0; i < perRow; i++)
            {
                var request = rows[r].Request with { Seed = first + (long)r * perRow + i };
                int index = text ? r : request.Class;
                list.Add(new SampleRow(list.Count, request, ShardedSampling.FileName(kind, index, digits, request.Seed),
                                       kind == "class" ? request.Class : null, kind == "class" ? rows[r].Caption : null,
                                       text ? r : null, text ? request.Prompt : null));
            }
        return list;
    }

    /// <summary>The --fid-stats settings, checked before any sampling: (output, weights, device), or null without --fid-stats.</summary>
    private static (string Path, string Weights, string Device)? FidSettings(string? path, FileInfo? weights, string device)
    {
        if (path is null) return weights is null ? null : throw new ArgumentException("--fid-weights is only used with --fid-stats FILE.");
        if (weights is null) throw new ArgumentException("--fid-stats needs --fid-weights: the FID Inception weights (pt_inception-2015-12-05-6726825d.pth or a safetensors copy).");
        if (!weights.Exists) throw new ArgumentException($"FID Inception weights '{weights.FullName}' not found.");
        return (Path.GetFullPath(path), weights.FullName, device);
    }

    /// <summary>Writes the mergeable FID sums of the shard's PNGs (read back from disk, so resumed images count the same).</summary>
    private static void WriteFidSums(MLContext mlContext, string folder, List<SampleRow> mine, ShardAssignment shard, (string Path, string Weights, string Device) fid)
    {
        FeatureSums sums;
        if (mine.Count == 0) sums = FeatureSums.Empty(FidInceptionV3.FeatureDim);
        else
        {
            using var evaluator = new FidEvaluator(fid.Weights, new FidOptions { ImageColumnName = FidInputs.ImageColumn, Device = fid.Device });
            var bar = new ConsoleProgressBar("fid sums");
            sums = evaluator.ComputeSums(FidInputs.Files(mlContext, Path.GetFullPath(folder), mine.Select(r => r.File).ToList()), FidInputs.Progress(bar));
            bar.Done();
        }
        FeatureSumsFile.Write(fid.Path, sums, shard.Index, shard.Count);
        Console.WriteLine($"wrote {fid.Path} (FID sums of {sums.Count} images, shard {shard})");
    }

    /// <summary>The prompts given with --prompt and in the --prompts file.</summary>
    private static List<string> Prompts(string[]? given, FileInfo? file) =>
        [.. given ?? [], .. file is null ? [] : File.ReadAllLines(file.FullName).Select(l => l.Trim()).Where(l => l.Length > 0)];

    /// <summary>The grid rows the model's kind calls for: prompts (text models), the chosen or all classes, or one unconditional row.</summary>
    private static List<(SampleRequest Request, string Caption)> Rows(ITransformer model, Transforms.Generation.UViTGenerationTransformer generator, string[] classes, List<string> prompts)
    {
        bool text = GenerationHelpers.FindTextEncoder(model) is not null;
        int classCount = generator.Generator.ClassCount;
        if (prompts.Count > 0 && !text) throw new ArgumentException("--prompt and --prompts need a text model; this model is " + (classCount > 0 ? $"class-conditional ({classCount} classes)." : "unconditional."));
        if (classes.Length > 0 && classCount == 0) throw new ArgumentException("--class needs a class-conditional model; this model has no classes.");
        if (text)
            return prompts.Count > 0 ? prompts.Select(p => (new SampleRequest(0, Prompt: p), p)).ToList()
                : throw new ArgumentException("This is a text model: give the prompts to draw with --prompt (repeatable) or --prompts FILE.");
        if (classCount == 0) return [(new SampleRequest(0), "")];
        var chosen = classes.Length > 0 ? classes.Select(c => ClassIndex(generator, c)) : Enumerable.Range(0, classCount);
        return chosen.Select(c => (new SampleRequest(0, c), generator.ClassNames[c])).ToList();
    }

    /// <summary>A class given by name or 0-based index.</summary>
    private static int ClassIndex(Transforms.Generation.UViTGenerationTransformer generator, string given)
    {
        int byName = generator.ClassNames.ToList().IndexOf(given);
        if (byName >= 0) return byName;
        return int.TryParse(given, out int index) && index >= 0 && index < generator.Generator.ClassCount ? index
            : throw new ArgumentException($"--class {given}: no such class; the model's are 0-{generator.Generator.ClassCount - 1} ({string.Join(", ", generator.ClassNames)}).");
    }
}
