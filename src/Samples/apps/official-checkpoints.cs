// Official checkpoints: build the ImageNet 256x256 U-ViT from its preset, load the official weights and Stable
// Diffusion's KL-f8 autoencoder (.pth or .safetensors, read strictly), wrap them as an ML.NET generator followed by
// DecodeLatents, generate a few ImageNet classes and save the chain as one model zip.
//
//   dotnet run official-checkpoints.cs -- --uvit imagenet256_uvit_large.pth --autoencoder autoencoder_kl.pth
//          [--preset imagenet256_uvit_large] [--sample-steps 50] [--device cuda] [--save-zip] [--output DIR]
//   dotnet run official-checkpoints.cs                 # no files given: tiny random stand-ins of the same kinds (seconds)
//
// The files are not downloaded: get imagenet256_uvit_large.pth from https://github.com/baofff/U-ViT (pretrained models)
// and autoencoder_kl.pth from the same page (assets/stable-diffusion/autoencoder_kl.pth in the official set-up).
// With them, each image takes about 3.3 minutes on 2 CPU cores (50 DPM-Solver steps with guidance: 190 s; decoding at
// 256x256: 9 s); one image per class, five in all.
// The notebook ../notebooks/03-official-checkpoints.ipynb walks through the same code cell by cell.
#:project ../Support/UViT.MLNet.Samples.csproj
#:property PublishAot=false

using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Data;
using UViT.MLNet.Core.Autoencoder;
using UViT.MLNet.Core.Checkpoints;
using UViT.MLNet.Core.Generation;
using UViT.MLNet.Core.Networks;
using UViT.MLNet.Core.Runtime;
using UViT.MLNet.Core.Training;
using UViT.MLNet.Samples;
using UViT.MLNet.Transforms.Generation;
using UViT.MLNet.Transforms.Latents;
using UViT.MLNet.Transforms.Persistence;

string output = Path.GetFullPath(Argument("--output") ?? Path.Combine("outputs", "official-checkpoints"));
Directory.CreateDirectory(output);
string? uvitCheckpoint = Argument("--uvit"), autoencoderCheckpoint = Argument("--autoencoder");
bool useRealCheckpoints = uvitCheckpoint is not null || autoencoderCheckpoint is not null;
if (useRealCheckpoints && (uvitCheckpoint is null || autoencoderCheckpoint is null))
    throw new ArgumentException("Give both --uvit and --autoencoder (or neither, for the random stand-ins).");
string device = Argument("--device") ?? "cpu";
var clock = Stopwatch.StartNew();

// 1. The architectures. A preset is the official config; its recipe tells the noise schedule the network was trained
//    with, and the official sampler follows from it (DPM-Solver for continuous time, DPM-Solver++ for discrete), 50 steps,
//    guidance s = 0.4. The stand-ins keep the structure at toy size: 1,001 labels (label 1000 = no class), 4-channel
//    latents, an autoencoder that shrinks images 8x.
UViTConfig network;
AutoencoderKLConfig autoencoder;
long? nullClass;
NoiseScheduleKind schedule;
SamplerSettings sampling;
if (useRealCheckpoints)
{
    var preset = UViTPresets.Get(Argument("--preset") ?? "imagenet256_uvit_large");
    (network, nullClass) = (preset.Config, preset.NullClass);
    schedule = TrainingRecipe.ForPreset(preset.Name).Schedule;
    autoencoder = AutoencoderKLConfig.StableDiffusionKLF8;
    sampling = new SamplerSettings
    {
        Sampler = schedule == NoiseScheduleKind.ContinuousVP ? SamplerKind.DpmSolver : SamplerKind.DpmSolverPlusPlus,
        Steps = int.Parse(Argument("--sample-steps") ?? "50"), GuidanceScale = 0.4,
    };
    Console.WriteLine($"{preset.QualifiedPaperName} ({preset.Name}), {schedule} schedule, {sampling.Sampler} {sampling.Steps} steps, guidance s = 0.4");
}
else
{
    network = new UViTConfig { ImageSize = 8, PatchSize = 2, InChannels = 4, EmbedDim = 64, Depth = 2, NumHeads = 2, NumClasses = 1001 };
    (nullClass, schedule) = (1000, NoiseScheduleKind.DiscreteSD);
    autoencoder = new AutoencoderKLConfig { Ch = 32, ChMult = [1, 1, 2, 2], NumResBlocks = 1 };
    sampling = new SamplerSettings { Sampler = SamplerKind.DpmSolverPlusPlus, Steps = int.Parse(Argument("--sample-steps") ?? "10"), GuidanceScale = 0.4 };
    // Written as checkpoint files, so the loading below is exactly what real files go through.
    uvitCheckpoint = Path.Combine(output, "standin_uvit.safetensors");
    autoencoderCheckpoint = Path.Combine(output, "standin_autoencoder.safetensors");
    TorchSharp.torch.manual_seed(0);
    using (var randomNetwork = new UViTNetwork(network, seed: 0)) StateDictLoader.SaveFile(randomNetwork, uvitCheckpoint);
    using (var randomAutoencoder = new AutoencoderKL(autoencoder)) StateDictLoader.SaveFile(randomAutoencoder, autoencoderCheckpoint);
    Console.WriteLine($"no checkpoints given: wrote random stand-ins {uvitCheckpoint} and {autoencoderCheckpoint} (their images are noise)");
}

// 2. The U-ViT: format told from the file's content, loaded strictly. The release holds EMA weights: one network serves
//    as both weight sets of the generator.
var nnet = new UViTNetwork(network, device: TorchRuntime.ParseDevice(device));
StateDictLoader.LoadFile(nnet, uvitCheckpoint!);
Console.WriteLine($"{StateDictFile.Detect(uvitCheckpoint!)} file, {nnet.parameters().Sum(p => p.numel()):N0} parameters loaded from {uvitCheckpoint}");
var uvit = new UViTGenerationTransformer(new UViTGenerator(nnet, nnet, schedule, nullClass), sampling, PixelRange.Symmetric, batchSize: 4);

// 3. The requests: a few ImageNet classes, two seeds each. Label is a key over the 1,000 real classes.
var classes = new (uint Id, string Name)[] { (88, "macaw"), (207, "golden retriever"), (279, "arctic fox"), (388, "giant panda"), (980, "volcano") };
int perClass = useRealCheckpoints ? 1 : 2;
var mlContext = new MLContext(seed: 0);
var requestSchema = SchemaDefinition.Create(typeof(Request));
requestSchema[nameof(Request.Label)].ColumnType = new KeyDataViewType(typeof(uint), uvit.Generator.ClassCount);
IDataView requests = mlContext.Data.LoadFromEnumerable(
    classes.SelectMany((c, row) => Enumerable.Range(0, perClass).Select(i => new Request { Label = c.Id, Seed = 100 + row * perClass + i })).ToList(),
    requestSchema);

// 4. Latents -> images with DecodeLatents, as one chain. Nothing is sampled until the output is read.
var decoder = mlContext.Transforms.DecodeLatents(autoencoderCheckpoint!, autoencoder: autoencoder, batchSize: 4, microBatchSize: 2, device: device)
    .Fit(uvit.Transform(requests));
var model = uvit.Append(decoder);
var images = model.Transform(requests).ReadImages("DecodedImage");
string grid = Path.Combine(output, "samples.png");
ImageGrid.SavePng(grid, images, columns: perClass, rowCaptions: classes.Select(c => c.Name).ToList(), scale: useRealCheckpoints ? 1 : 2);
Console.WriteLine($"wrote {grid} ({images.Count} images of {images[0].Width}x{images[0].Height}) after {clock.Elapsed:mm\\:ss}");

// 5. One ML.NET model zip (raw and EMA weights are stored separately: about 2.3 GB for U-ViT-L/2, so only on request).
if (!useRealCheckpoints || args.Contains("--save-zip"))
{
    string zip = Path.Combine(output, "model.zip");
    mlContext.Model.Save(model, requests.Schema, zip);
    Console.WriteLine($"saved {zip} ({new FileInfo(zip).Length / 1024} KiB)");
}
uvit.Dispose();
decoder.Dispose();

// ------------------------------------------------------------------------------------------------ helpers

string? Argument(string name) => Array.IndexOf(args, name) is int i and >= 0 && i + 1 < args.Length ? args[i + 1] : null;

sealed class Request
{
    public uint Label { get; set; }   // ImageNet class index, 0-999
    public long Seed { get; set; }
}
