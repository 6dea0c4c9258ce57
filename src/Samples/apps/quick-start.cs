// Quick start: train a class-conditional U-ViT on the MNIST digits shipped in src/Samples/data/mnist through ML.NET, save
// the model zip, load it back in a fresh MLContext and write a grid with every digit (one row per digit).
//
//   dotnet run quick-start.cs                     # 100 steps: the pipeline end to end in about a minute; samples are noise
//   dotnet run quick-start.cs -- --steps 3000     # the real run: clean digits, about 7.5 minutes on 2 idle CPU cores
//   dotnet run quick-start.cs -- --output DIR     # where model.zip and the PNGs go (default: outputs/quick-start)
//
// The notebook ../notebooks/01-quick-start.ipynb walks through the same code cell by cell.
#:project ../Support/UViT.MLNet.Samples.csproj
#:property PublishAot=false

using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Data;
using UViT.MLNet.Core.Generation;
using UViT.MLNet.Estimators;
using UViT.MLNet.Samples;
using UViT.MLNet.Transforms.Generation;
using UViT.MLNet.Transforms.Persistence;

int steps = int.Parse(Argument("--steps") ?? "100");
string output = Path.GetFullPath(Argument("--output") ?? Path.Combine("outputs", "quick-start"));
Directory.CreateDirectory(output);
var clock = Stopwatch.StartNew();

// 1. The data: 10,000 real MNIST digits (28x28, grey, 0-255) as an IDataView with an Image vector and a key-typed Label.
string mnist = Path.Combine(SamplesFolder(), "data", "mnist");
var digits = IdxImageDataset.Read(Path.Combine(mnist, "images-idx3-ubyte.gz"), Path.Combine(mnist, "labels-idx1-ubyte.gz"));
var mlContext = new MLContext(seed: 0);
IDataView data = digits.ToDataView(mlContext);
Console.WriteLine($"{digits.Count} digits of {digits.Height}x{digits.Width}, {digits.ClassCount} classes");

// 2. The trainer. Defaults: a small U-ViT sized to the images (width 128, depth 6, patch 7 -> 16 tokens), the short-run
//    recipe (lr 1e-3, 100 warm-up steps, EMA 0.999 with warm-up, 10% label dropout for guidance, Min-SNR loss weighting).
//    Sampling: DDIM with eta 2 (fresh noise every step, twice DDPM's, cleans up what a short run leaves), 50 steps, guidance s = 1.
var trainer = mlContext.Diffusion().Trainers.UViT(new UViTTrainerOptions
{
    MaxSteps = steps,
    BatchSize = 64,
    Sampling = new SamplerSettings { Sampler = SamplerKind.Ddim, DdimEta = 2, Steps = 50, GuidanceScale = 1.0 },
    ReportInterval = Math.Max(1, steps / 10),
    Progress = new SynchronousProgress<TrainingProgress>(p => Console.WriteLine($"step {p.Step,5}/{p.TotalSteps}  loss {p.Loss:F4}  {p.Elapsed:mm\\:ss}")),
});
using (var model = trainer.Fit(data))
{
    Console.WriteLine($"trained {steps} steps in {clock.Elapsed:mm\\:ss}");
    // 3. One zip holds the network, both weight sets and every sampling setting.
    mlContext.Model.Save(model, model.GenerationRequestSchema(), Path.Combine(output, "model.zip"));   // its input: what generation reads
}

// 4. Anywhere else: load it (RegisterUViT teaches this MLContext our transformers) and ask for images: rows of (Label, Seed).
var fresh = new MLContext(seed: 0).RegisterUViT();
var generator = (UViTGenerationTransformer)fresh.Model.Load(Path.Combine(output, "model.zip"), out _);
int perClass = steps >= 1000 ? 10 : 5;
var requests = ClassGrid.Requests(generator, fresh, perClass, firstSeed: 1000);
var images = generator.Transform(requests).ReadImages(generator.ImageColumnName);   // sampled here, 16 rows per batch
string grid = Path.Combine(output, "samples.png");
ImageGrid.SavePng(grid, images, columns: perClass, rowCaptions: generator.ClassNames);
generator.Dispose();
Console.WriteLine($"wrote {grid} ({images.Count} digits, one row per digit) in {clock.Elapsed:mm\\:ss} in all");

// ------------------------------------------------------------------------------------------------ helpers

// src/Samples, found from this file's folder whether run from here or elsewhere.
static string SamplesFolder([System.Runtime.CompilerServices.CallerFilePath] string file = "") => Path.GetFullPath(Path.Combine(Path.GetDirectoryName(file)!, ".."));

string? Argument(string name) => Array.IndexOf(args, name) is int i and >= 0 && i + 1 < args.Length ? args[i + 1] : null;

