using System.CommandLine;
using System.Diagnostics;
using Microsoft.ML;
using UViT.MLNet.Transforms.Persistence;

namespace UViT.MLNet.Cli.Commands;

/// <summary>
/// <c>uvit sample MODEL.zip</c>: loads a saved class, unconditional or text model and writes a PNG grid of the classes or prompts
/// asked for (one row each), and optionally one PNG per image.
/// </summary>
internal static class SampleCommand
{
    public static Command Create()
    {
        var model = new Argument<FileInfo>("model") { Description = "A model.zip written by `uvit train`, `uvit shapes` or mlContext.Model.Save." };
        var output = new Option<string>("--output", "-o") { Description = "The PNG grid to write.", DefaultValueFactory = _ => "samples.png" };
        var count = new Option<int>("--count", "--per-class") { Description = "Images per class or prompt (unconditional models: in all); one grid row each.", DefaultValueFactory = _ => 10 };
        var classes = new Option<string[]>("--class") { Description = "A class to draw, by index or name; repeatable (default: every class). Class models only." };
        var prompts = new Option<string[]>("--prompt") { Description = "A prompt to draw; repeatable. Text models need a prompt here or in --prompts." };
        var promptFile = new Option<FileInfo?>("--prompts") { Description = "A text file of prompts, one a line (blank lines skipped)." };
        var outDir = new Option<string?>("--out-dir") { Description = "Also write each image as its own PNG into this folder." };
        var seed = new Option<long>("--seed") { Description = "Seed of the first image; image i uses seed + i.", DefaultValueFactory = _ => 1000 };
        var batch = new Option<int?>("--batch-size") { Description = "Images per sampler run (default: the model's)." };
        var sampling = SamplingOptions.ForSavedModel();
        var command = new Command("sample", "Generate images from a saved model zip (class, unconditional or text model); sampling settings default to those saved in the model.")
        {
            model, output, count, classes, prompts, promptFile, outDir, seed, batch,
        };
        sampling.AddTo(command);
        command.SetAction(parse => CliErrors.Run(() =>
        {
            var mlContext = new MLContext(seed: 0).RegisterUViT();
            var loaded = GenerationHelpers.LoadModel(mlContext, parse.GetValue(model)!.FullName);
            var original = GenerationHelpers.FindGenerator(loaded);
            var generator = original.WithSampling(sampling.Override(parse, original.Settings));
            if (parse.GetValue(batch) is int b) generator = generator.WithBatchSize(b);
            int perRow = parse.GetValue(count);
            if (perRow is < 1 or > 1000) throw new ArgumentException($"--count must lie in [1, 1000]; got {perRow}.");
            var rows = Rows(loaded, original, parse.GetValue(classes) ?? [], Prompts(parse.GetValue(prompts), parse.GetValue(promptFile)));
            long first = parse.GetValue(seed);
            var requests = rows.SelectMany((row, r) => Enumerable.Range(0, perRow).Select(i => row.Request with { Seed = first + r * perRow + i })).ToList();

            var clock = Stopwatch.StartNew();
            var samples = GenerationHelpers.Generate(mlContext, loaded, generator, requests);
            string grid = Path.GetFullPath(parse.GetValue(output)!);
            if (parse.GetValue(outDir) is { } folder)
            {
                Directory.CreateDirectory(folder);
                for (int i = 0; i < samples.Count; i++)
                    GenerationHelpers.SaveGrid(Path.Combine(folder, $"{i:D4}-{FileSafe(rows[i / perRow].Caption)}.png"), [samples[i].Image], 1, null, scale: 1);
                Console.WriteLine($"wrote {samples.Count} PNGs to {Path.GetFullPath(folder)}");
            }
            GenerationHelpers.SaveGrid(grid, samples.Select(s => s.Image).ToList(), perRow, rows.Any(r => r.Caption.Length > 0) ? rows.Select(r => r.Caption).ToList() : null);
            var s = generator.Settings;
            Console.WriteLine($"generated {samples.Count} images in {clock.Elapsed:mm\\:ss} ({s.Sampler}, {s.Steps} steps, guidance s = {s.GuidanceScale}, " +
                              $"{(s.UseEmaWeights ? "EMA" : "raw")} weights); wrote {grid}");
            return 0;
        }));
        return command;
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

    /// <summary>A caption as a short file-name part: letters and digits, the rest as '-'.</summary>
    private static string FileSafe(string caption) =>
        caption.Length == 0 ? "sample" : new string(caption.Take(40).Select(ch => char.IsAsciiLetterOrDigit(ch) ? ch : '-').ToArray());
}
