// Text-to-image, as `uvit shapes` does it: make captioned coloured shapes (three captions per image), train a
// text-conditioned U-ViT through EncodeText -> trainer, save the prompt pipeline (EncodeText -> generation) as one model
// zip, load it in a fresh MLContext, draw a grid of prompts x seeds and check each image shows the prompt's colour and shape.
//
//   dotnet run text-to-image.cs                          # 24 steps: the pipeline end to end in under a minute; samples are still noise
//   dotnet run text-to-image.cs -- --steps 1500          # the real run: 18 min with other jobs on 2 cores; colour 100%, shape 43% right
//   dotnet run text-to-image.cs -- --clip FOLDER         # real CLIP (openai/clip-vit-large-patch14: config.json, vocab.json, merges.txt, model.safetensors)
//   dotnet run text-to-image.cs -- --output DIR --device cuda
//
// Without --clip the text encoder is the CLIP tokenizer shipped in src/Samples/data/clip with a small random, frozen text
// tower (2 layers, 64 wide, 16 tokens), written here as safetensors: nothing is downloaded. The notebook
// ../notebooks/05-text-to-image.ipynb walks through the same code cell by cell.
#:project ../Support/UViT.MLNet.Samples.csproj
#:property PublishAot=false

using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Data;
using UViT.MLNet.Core.Generation;
using UViT.MLNet.Core.Text;
using UViT.MLNet.Estimators;
using UViT.MLNet.Samples;
using UViT.MLNet.Transforms.Generation;
using UViT.MLNet.Transforms.Persistence;
using UViT.MLNet.Transforms.Text;

int steps = int.Parse(Argument("--steps") ?? "24");
bool realRun = steps >= 1000;
string output = Path.GetFullPath(Argument("--output") ?? Path.Combine("outputs", "text-to-image"));
string device = Argument("--device") ?? "cpu";
Directory.CreateDirectory(output);
var clock = Stopwatch.StartNew();

// 1. The data: one coloured shape per 16x16 image, every (colour, shape) pair equally often, three captions each.
//    Columns: Image, Vector<Single, 3, 16, 16> (0-255), and Captions, Vector<Text, 3>.
var mlContext = new MLContext(seed: 0);
var rows = ToyShapes.Generate(count: realRun ? 1200 : 240, size: 16, seed: 0, jitter: 0.25);
IDataView data = ToyShapes.ToDataView(mlContext, rows);

// 2. The text encoder: real CLIP from a Hugging Face folder (--clip), or the shipped tokenizer + a small random tower.
var text = Argument("--clip") is string clipFolder ? ClipTextFiles.FromFolder(clipFolder) : SmallRandomTextTower(Path.Combine(output, "text-encoder"));
Console.WriteLine($"{rows.Count} shapes of 16x16, 3 captions each (\"{string.Join("\", \"", rows[0].Captions)}\"); text encoder {text.Config}");

// 3. Train: EncodeText turns the 3 captions of a row into 3 contexts (Vector<Single, 3, T, D>) and annotates the column with
//    the empty prompt's context; the trainer draws one caption per row each step and drops 10% of them to the empty prompt.
var encodeCaptions = mlContext.Transforms.EncodeText(text, new TextEncodingOptions { InputColumnName = nameof(ToyShapes.Row.Captions), Device = device, BatchSize = 64 });
var trainer = mlContext.Diffusion().Trainers.UViT(new UViTTrainerOptions
{
    MaxSteps = steps,
    BatchSize = 64,
    Device = device,
    Sampling = new SamplerSettings { Sampler = SamplerKind.DpmSolverPlusPlus, Steps = realRun ? 25 : 10, GuidanceScale = 1.0 },   // s = 1, the official MS-COCO setting
    ReportInterval = Math.Max(1, steps / 10),
    Progress = new SynchronousProgress<TrainingProgress>(p => Console.WriteLine($"step {p.Step,5}/{p.TotalSteps}  loss {p.Loss:F4}  {p.Elapsed:mm\\:ss}")),
});
using var trained = encodeCaptions.Append(trainer).Fit(data);
UViTGenerationTransformer generator = trained.LastTransformer;
Console.WriteLine($"trained {steps} steps in {clock.Elapsed:mm\\:ss}");

// 4. The prompt pipeline a user keeps: (Prompt, Seed) -> EncodeText -> U-ViT generation, saved as one zip (tokenizer files,
//    text tower, U-ViT weights and the empty context).
int perPrompt = realRun ? 8 : 2;
var prompts = Enumerable.Range(0, ToyShapes.Shapes.Count)
    .SelectMany(shape => Enumerable.Range(0, ToyShapes.Colours.Count).Select(colour => (Colour: colour, Shape: shape))).ToList();
var requests = prompts.SelectMany((p, i) => Enumerable.Range(0, perPrompt)
    .Select(k => new PromptRow { Prompt = ToyShapes.Caption(p.Colour, p.Shape), Seed = 1000 + i * 100 + k })).ToList();
IDataView requestView = mlContext.Data.LoadFromEnumerable(requests);
var encodePrompts = mlContext.Transforms.EncodeText(text, new TextEncodingOptions { InputColumnName = nameof(PromptRow.Prompt), Device = device }).Fit(requestView);
var textToImage = new TransformerChain<ITransformer>(encodePrompts, generator);
string zip = Path.Combine(output, "model.zip");
mlContext.Model.Save(textToImage, requestView.Schema, zip);
encodePrompts.Dispose();
Console.WriteLine($"saved {zip} ({new FileInfo(zip).Length / 1024} KiB)");

// 5. Anywhere else: load the zip (RegisterUViT teaches this MLContext our transformers) and draw prompts x seeds.
var fresh = new MLContext(seed: 0).RegisterUViT();
var loaded = (TransformerChain<ITransformer>)fresh.Model.Load(zip, out _);
var loadedGenerator = loaded.OfType<UViTGenerationTransformer>().Single();
var generated = loaded.Transform(fresh.Data.LoadFromEnumerable(requests));   // sampled when read, 16 rows per batch
var outputs = generated.ReadGenerated(loadedGenerator.OutputColumnName, loadedGenerator.ImageColumnName);   // one pass: each image and its 0-255 pixels
var (images, pixels) = (outputs.Select(o => o.Image!).ToList(), outputs.Select(o => o.Pixels).ToList());
string grid = Path.Combine(output, "samples.png");
ImageGrid.SavePng(grid, images, columns: perPrompt, rowCaptions: prompts.Select(p => ToyShapes.Caption(p.Colour, p.Shape)).ToList());
var settings = loadedGenerator.Settings;
Console.WriteLine($"wrote {grid} ({prompts.Count} prompts x {perPrompt} seeds; {settings.Sampler}, {settings.Steps} steps, guidance s = {settings.GuidanceScale})");

// 6. The prompt check: does each image show the colour and the shape its prompt asked for?
var expected = prompts.SelectMany(p => Enumerable.Repeat(p, perPrompt)).ToList();
var verdicts = pixels.Select(ToyShapes.Judge).ToList();
double colourHits = expected.Where((e, i) => verdicts[i]?.Colour == e.Colour).Count() / (double)expected.Count;
double shapeHits = expected.Where((e, i) => verdicts[i]?.Shape == e.Shape).Count() / (double)expected.Count;
double bothHits = expected.Where((e, i) => verdicts[i] == (e.Colour, e.Shape)).Count() / (double)expected.Count;
Console.WriteLine($"prompt check: colour {colourHits:P0}, shape {shapeHits:P0}, both {bothHits:P0} of {expected.Count} images (chance: 25%, 33%, 8%)");
foreach (var transformer in loaded.OfType<IDisposable>()) transformer.Dispose();
Console.WriteLine($"total {clock.Elapsed:mm\\:ss}");

// ------------------------------------------------------------------------------------------------ helpers

// A stand-in for CLIP that needs no download (as `uvit shapes` makes it): the shipped CLIP tokenizer files and a 2-layer,
// 64-wide text tower with seeded random weights, frozen as CLIP is. It reads 16 tokens instead of CLIP's 77 (the captions
// are short), so the U-ViT's sequence is 33 tokens instead of 94. Different prompts still give different contexts.
static ClipTextFiles SmallRandomTextTower(string folder)
{
    string clip = Path.Combine(SamplesFolder(), "data", "clip");
    return ClipTextFiles.WithRandomTower(Path.Combine(clip, "vocab.json"), Path.Combine(clip, "merges.txt"), folder);
}

// src/Samples, found from this file's folder whether run from here or elsewhere.
static string SamplesFolder([System.Runtime.CompilerServices.CallerFilePath] string file = "") => Path.GetFullPath(Path.Combine(Path.GetDirectoryName(file)!, ".."));

string? Argument(string name) => Array.IndexOf(args, name) is int i and >= 0 && i + 1 < args.Length ? args[i + 1] : null;

sealed class PromptRow
{
    public string Prompt { get; set; } = "";
    public long Seed { get; set; }   // each image depends only on its prompt and seed
}

