// The per-image output of `uvit sample --out-dir`: one PNG per request row, named by (class or prompt index, seed), so a
// name says which image it is whatever process wrote it. Shard K of N generates the rows i with i mod N == K of the full,
// identical-everywhere request list; each image's noise comes from its own seed (RowSeededNoise), so the split does not
// change a single pixel. Restartable: rows whose PNG exists are skipped, and every PNG is written atomically (temp +
// rename), so a killed shard leaves only complete files (and perhaps a hidden temp that the next write of that file removes).
using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.Data;
using UViT.MLNet.Core.Checkpoints;
using UViT.MLNet.Core.Runtime;
using UViT.MLNet.Transforms.Generation;

namespace UViT.MLNet.Cli.Commands;

/// <summary>One row of the full request list: its position, request, PNG name and what it shows.</summary>
internal sealed record SampleRow(int Row, SampleRequest Request, string File, int? ClassIndex, string? ClassName, int? PromptIndex, string? Prompt);

/// <summary>Writes a shard's images and manifest into a folder, skipping images already there.</summary>
internal static class ShardedSampling
{
    /// <summary>The PNG name of an image: <c>class03-seed000123.png</c>, <c>prompt007-seed000123.png</c> or <c>seed000123.png</c>.</summary>
    public static string FileName(string? kind, int index, int indexDigits, long seed) =>
        (kind is null ? "" : $"{kind}{index.ToString("D" + indexDigits, CultureInfo.InvariantCulture)}-") + $"seed{seed.ToString("D6", CultureInfo.InvariantCulture)}.png";

    /// <summary>The manifest of shard K of N: <c>manifest-K-of-N.jsonl</c>.</summary>
    public static string ManifestName(ShardAssignment shard) => $"manifest-{shard.Index}-of-{shard.Count}.jsonl";

    /// <summary>
    /// Generates the shard's rows whose PNG is missing in <paramref name="folder"/> (each written as soon as its batch is done),
    /// then writes the shard's manifest (JSON lines: file, class, class_name, prompt_index, prompt, seed), atomically.
    /// Returns the shard's rows (all of them, written now or before) and how many were skipped as already present.
    /// </summary>
    public static (List<SampleRow> Rows, int Skipped) Write(MLContext mlContext, ITransformer model, UViTGenerationTransformer generator,
                                                             IReadOnlyList<SampleRow> all, ShardAssignment shard, string folder)
    {
        Directory.CreateDirectory(folder);
        var mine = all.Where(r => shard.Owns(r.Row)).ToList();
        var todo = mine.Where(r => !System.IO.File.Exists(Path.Combine(folder, r.File))).ToList();
        if (todo.Count > 0)
        {
            var (view, _, imageColumn, _) = GenerationHelpers.Run(mlContext, model, generator, todo.Select(r => r.Request).ToList(), progress: null);
            if (imageColumn is null)
                throw new ArgumentException("The model makes no images (its samples have neither 1 nor 3 channels and no latent decoder follows it).");
            var column = view.Schema[imageColumn];
            var bar = new ConsoleProgressBar($"shard {shard}");
            int done = 0;
            using (var cursor = view.GetRowCursor([column]))
            {
                var getImage = cursor.GetGetter<MLImage>(column);
                while (cursor.MoveNext())
                {
                    MLImage image = null!;
                    getImage(ref image);
                    ImagePng.Save(Path.Combine(folder, todo[done].File), image);
                    bar.Update(++done, todo.Count, "images");
                }
            }
            bar.Done();
            if (done != todo.Count) throw new InvalidOperationException($"The generator returned {done} images for {todo.Count} requests.");
        }
        AtomicFile.Write(Path.Combine(folder, ManifestName(shard)), stream =>
        {
            using var writer = new StreamWriter(stream, new UTF8Encoding(false), leaveOpen: true) { NewLine = "\n" };
            foreach (var row in mine)
                writer.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object?>
                {
                    ["file"] = row.File, ["class"] = row.ClassIndex, ["class_name"] = row.ClassName,
                    ["prompt_index"] = row.PromptIndex, ["prompt"] = row.Prompt, ["seed"] = row.Request.Seed,
                }));
        });
        return (mine, mine.Count - todo.Count);
    }
}
