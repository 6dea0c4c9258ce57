// Your own images: a folder with one subfolder per class goes through the usual ML.NET image pipeline
// (LoadImages -> ResizeImages -> ExtractPixels -> MapValueToKey) into the U-ViT trainer; the fitted chain is saved as one
// model zip, loaded back in a fresh MLContext, and its generator draws every class.
//
//   dotnet run your-own-images.cs                          # draws coloured shapes to train on; 150 steps: ~20 s, samples noise
//   dotnet run your-own-images.cs -- --steps 3000          # each class in its colour, shapes blotchy: ~2.5 minutes on 2 cores
//   dotnet run your-own-images.cs -- --data ~/pets         # your folder: pets/cat/*.jpg, pets/dog/*.jpg, ...
//   dotnet run your-own-images.cs -- --output DIR          # where model.zip and the PNGs go (default: outputs/your-own-images)
//
// The notebook ../notebooks/02-your-own-images.ipynb walks through the same code cell by cell.
#:project ../Support/UViT.MLNet.Samples.csproj
#:property PublishAot=false

using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Data;
using UViT.MLNet.Core.Generation;
using UViT.MLNet.Core.Networks;
using UViT.MLNet.Estimators;
using UViT.MLNet.Samples;
using UViT.MLNet.Transforms.Generation;
using UViT.MLNet.Transforms.Persistence;

int steps = int.Parse(Argument("--steps") ?? "150");
string output = Path.GetFullPath(Argument("--output") ?? Path.Combine("outputs", "your-own-images"));
string imageFolder = Argument("--data") is string data ? Path.GetFullPath(data) : Path.Combine(output, "shapes");
Directory.CreateDirectory(output);
var clock = Stopwatch.StartNew();
if (Argument("--data") is null) ShapeFolder.Draw(imageFolder, perClass: 20, seed: 1);   // 32x32 discs, squares, triangles

// 1. The file table: one row (Path relative to the folder, ClassName = the subfolder) per image; a corrupt file is named.
var files = ImageFolder.List(imageFolder);
int classCount = files.Select(f => f.ClassName).Distinct().Count();
Console.WriteLine($"{files.Count} images in {classCount} classes from {imageFolder}");
var mlContext = new MLContext(seed: 0);
IDataView fileTable = mlContext.Data.LoadFromEnumerable(files);

// 2. The pipeline. The network is small and explicit: 16x16 images in 4x4 patches, NumClasses = classes + the null class
//    that classifier-free guidance compares against. Leave Network out and the trainer sizes one to the data.
var pipeline = mlContext.Transforms.LoadImages("Raw", imageFolder, nameof(ImageFolder.Entry.Path))
    .Append(mlContext.Transforms.ResizeImages("Resized", 16, 16, "Raw"))
    .Append(mlContext.Transforms.ExtractPixels("Image", "Resized"))                        // Vector<Single, 3, 16, 16>, 0-255
    .Append(mlContext.Transforms.Conversion.MapValueToKey("Label", nameof(ImageFolder.Entry.ClassName)))
    .Append(mlContext.Diffusion().Trainers.UViT(new UViTTrainerOptions
    {
        Network = new UViTConfig { ImageSize = 16, PatchSize = 4, InChannels = 3, EmbedDim = 64, Depth = 4, NumHeads = 4, NumClasses = classCount + 1 },
        MaxSteps = steps,
        BatchSize = 32,
        Sampling = new SamplerSettings { Sampler = SamplerKind.DpmSolverPlusPlus, Steps = 25, GuidanceScale = 2.0 },
        ReportInterval = Math.Max(1, steps / 5),
        Progress = new SynchronousProgress<TrainingProgress>(p => Console.WriteLine($"step {p.Step,5}/{p.TotalSteps}  loss {p.Loss:F4}  {p.Elapsed:mm\\:ss}")),
    }));

// 3. Fit, and save the whole chain (image transforms included) as one zip.
string zip = Path.Combine(output, "model.zip");
var model = pipeline.Fit(fileTable);
mlContext.Model.Save(model, model.GenerationRequestSchema(), zip);   // its input: what generation reads (Label, Seed)
model.LastTransformer.Dispose();
Console.WriteLine($"saved {zip} ({new FileInfo(zip).Length / 1024} KiB) after {clock.Elapsed:mm\\:ss}");

// 4. Load it in a fresh MLContext; generation needs only the chain's last transformer.
var fresh = new MLContext(seed: 0).RegisterUViT();
var loaded = (TransformerChain<ITransformer>)fresh.Model.Load(zip, out _);
var generator = loaded.OfType<UViTGenerationTransformer>().Last();
const int perClass = 8;
var samples = generator.Transform(ClassGrid.Requests(generator, fresh, perClass, firstSeed: 1)).ReadImages(generator.ImageColumnName);
string grid = Path.Combine(output, "samples.png");
ImageGrid.SavePng(grid, samples, columns: perClass, rowCaptions: generator.ClassNames);
generator.Dispose();
Console.WriteLine($"wrote {grid} ({samples.Count} images, one row per class) in {clock.Elapsed:mm\\:ss} in all");

// ------------------------------------------------------------------------------------------------ helpers

string? Argument(string name) => Array.IndexOf(args, name) is int i and >= 0 && i + 1 < args.Length ? args[i + 1] : null;

