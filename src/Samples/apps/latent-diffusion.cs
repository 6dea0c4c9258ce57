// Latent diffusion as one ML.NET pipeline: LoadImages -> ResizeImages -> ExtractPixels -> MapValueToKey -> EncodeLatents
// -> U-ViT trainer (on the latents) -> DecodeLatents; saved as one model zip, loaded back, and its generator + decoder
// draw every class.
//
//   dotnet run latent-diffusion.cs                                      # tiny random autoencoder, 16x16 images: ~15 s
//   dotnet run latent-diffusion.cs -- --autoencoder autoencoder_kl.pth  # Stable Diffusion's KL-f8, 64x64 images, 2,000 steps: ~2 min
//   dotnet run latent-diffusion.cs -- --steps N --data FOLDER --output DIR
//
// autoencoder_kl.pth is not downloaded: the U-ViT repository ships it as assets/stable-diffusion/autoencoder_kl.pth.
// With the random stand-in the decoded images are noise; the pipeline, the training and the zip are the same.
// The notebook ../notebooks/04-latent-diffusion.ipynb walks through the same code cell by cell.
#:project ../Support/UViT.MLNet.Samples.csproj
#:property PublishAot=false

using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Data;
using UViT.MLNet.Core.Autoencoder;
using UViT.MLNet.Core.Checkpoints;
using UViT.MLNet.Core.Generation;
using UViT.MLNet.Core.Networks;
using UViT.MLNet.Estimators;
using UViT.MLNet.Samples;
using UViT.MLNet.Transforms.Generation;
using UViT.MLNet.Transforms.Latents;
using UViT.MLNet.Transforms.Persistence;

string output = Path.GetFullPath(Argument("--output") ?? Path.Combine("outputs", "latent-diffusion"));
Directory.CreateDirectory(output);
string? autoencoderCheckpoint = Argument("--autoencoder");
bool useRealAutoencoder = autoencoderCheckpoint is not null;
var clock = Stopwatch.StartNew();

// 1. The autoencoder: Stable Diffusion's KL-f8 (64x64 images -> 4x8x8 latents), or a random stand-in of the same kind
//    (2 levels: 16x16 images -> 4x8x8 latents) written as a checkpoint file so the pipeline reads it as it would the real one.
AutoencoderKLConfig autoencoder;
int imageSize;
if (useRealAutoencoder)
{
    (autoencoder, imageSize) = (AutoencoderKLConfig.StableDiffusionKLF8, 64);
}
else
{
    (autoencoder, imageSize) = (new AutoencoderKLConfig { Ch = 32, ChMult = [1, 2], NumResBlocks = 1 }, 16);
    autoencoderCheckpoint = Path.Combine(output, "standin_autoencoder.safetensors");
    TorchSharp.torch.manual_seed(0);
    using (var random = new AutoencoderKL(autoencoder)) StateDictLoader.SaveFile(random, autoencoderCheckpoint);
    Console.WriteLine($"no --autoencoder given: wrote a random stand-in {autoencoderCheckpoint} (decoded images will be noise)");
}
int steps = int.Parse(Argument("--steps") ?? (useRealAutoencoder ? "2000" : "100"));
int latentSize = imageSize / autoencoder.DownsampleFactor;

// 2. The images: a folder with one subfolder per class (default: drawn here).
string imageFolder = Argument("--data") is string data ? Path.GetFullPath(data) : Path.Combine(output, "shapes");
if (Argument("--data") is null) ShapeFolder.Draw(imageFolder, perClass: 24, seed: 2, side: 64, classes: 2);   // discs and squares
var files = ImageFolder.List(imageFolder);   // rows of (Path relative to the folder, ClassName = the subfolder)
int classCount = files.Select(f => f.ClassName).Distinct().Count();
Console.WriteLine($"{files.Count} images, {classCount} classes: {imageSize}x{imageSize} -> {autoencoder.EmbedDim}x{latentSize}x{latentSize} latents");
var mlContext = new MLContext(seed: 0);
IDataView fileTable = mlContext.Data.LoadFromEnumerable(files);

// 3. The pipeline: the trainer reads the Latent column as it is (Symmetric: scaled latents are not a pixel range).
var pipeline = mlContext.Transforms.LoadImages("Raw", imageFolder, nameof(ImageFolder.Entry.Path))
    .Append(mlContext.Transforms.ResizeImages("Resized", imageSize, imageSize, "Raw"))
    .Append(mlContext.Transforms.ExtractPixels("Image", "Resized"))                                   // 0-255
    .Append(mlContext.Transforms.Conversion.MapValueToKey("Label", nameof(ImageFolder.Entry.ClassName)))
    .Append(mlContext.Transforms.EncodeLatents(autoencoderCheckpoint!, inputRange: PixelRange.Bytes, autoencoder: autoencoder, batchSize: 16))
    .Append(mlContext.Diffusion().Trainers.UViT(new UViTTrainerOptions
    {
        ImageColumnName = "Latent",
        InputRange = PixelRange.Symmetric,
        Network = new UViTConfig { ImageSize = latentSize, PatchSize = 2, InChannels = autoencoder.EmbedDim, EmbedDim = 64, Depth = 4, NumHeads = 4, NumClasses = classCount + 1 },
        MaxSteps = steps,
        BatchSize = 24,
        Sampling = new SamplerSettings { Sampler = SamplerKind.DpmSolverPlusPlus, Steps = 20, GuidanceScale = 1.0 },
        ReportInterval = Math.Max(1, steps / 5),
        Progress = new SynchronousProgress<TrainingProgress>(p => Console.WriteLine($"step {p.Step,5}/{p.TotalSteps}  loss {p.Loss:F4}  {p.Elapsed:mm\\:ss}")),
    }))
    .Append(mlContext.Transforms.DecodeLatents(autoencoderCheckpoint!, autoencoder: autoencoder, batchSize: 8, microBatchSize: 4));
var model = pipeline.Fit(fileTable);
string zip = Path.Combine(output, "model.zip");
mlContext.Model.Save(model, model.GenerationRequestSchema(), zip);   // its input: what generation reads (Label, Seed)
foreach (var transformer in model.OfType<IDisposable>()) transformer.Dispose();
Console.WriteLine($"saved {zip} ({new FileInfo(zip).Length / 1024} KiB) after {clock.Elapsed:mm\\:ss}");

// 4. Generate from the zip: generator + decoder only (the loaded chain also starts with the image and encoding transforms).
var fresh = new MLContext(seed: 0).RegisterUViT();
var loaded = (TransformerChain<ITransformer>)fresh.Model.Load(zip, out _);
var generator = loaded.OfType<UViTGenerationTransformer>().Single();
var generate = generator.Append(loaded.OfType<LatentDecodingTransformer>().Single());
const int perClass = 6;
var images = generate.Transform(ClassGrid.Requests(generator, fresh, perClass, firstSeed: 1)).ReadImages("DecodedImage");
string grid = Path.Combine(output, "samples.png");
ImageGrid.SavePng(grid, images, columns: perClass, rowCaptions: generator.ClassNames, scale: useRealAutoencoder ? 2 : 4);
foreach (var transformer in loaded.OfType<IDisposable>()) transformer.Dispose();
Console.WriteLine($"wrote {grid} ({images.Count} images, one row per class) in {clock.Elapsed:mm\\:ss} in all");

// ------------------------------------------------------------------------------------------------ helpers

string? Argument(string name) => Array.IndexOf(args, name) is int i and >= 0 && i + 1 < args.Length ? args[i + 1] : null;

