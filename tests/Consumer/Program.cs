// The consumer check (.ci/run, tests/Consumer/run.sh): a console application outside the repository that uses UViT.MLNet
// only through its packages, as a user does. Trains a tiny class-conditional U-ViT through
// mlContext.Diffusion().Trainers.UViT, saves the model zip, loads it in a new MLContext, generates images and checks them.
// Exit code 0 and the last line "consumer: ok" when every check holds; run.sh also runs it once without a backend package
// and expects the one clear error.
using Microsoft.ML;
using Microsoft.ML.Data;
using UViT.MLNet.Core.Generation;
using UViT.MLNet.Estimators;
using UViT.MLNet.Transforms.Generation;
using UViT.MLNet.Transforms.Persistence;

const int Size = 16, Classes = 2, PerClass = 32;
string output = args.Length > 0 ? args[0] : Path.Combine(Path.GetTempPath(), "uvit-consumer");
Directory.CreateDirectory(output);

// Two classes of 16x16 grey images, 0-255, [C, H, W] = [1, 16, 16]: class 0 bright on the left half, class 1 on the top half.
var rows = new List<Row>();
var random = new Random(7);
for (int c = 0; c < Classes; c++)
    for (int i = 0; i < PerClass; i++)
    {
        var image = new float[Size * Size];
        for (int y = 0; y < Size; y++)
            for (int x = 0; x < Size; x++)
                image[y * Size + x] = (c == 0 ? x < Size / 2 : y < Size / 2) ? 200 + random.Next(56) : random.Next(40);
        rows.Add(new Row { Image = image, Label = (uint)c });
    }
var mlContext = new MLContext(seed: 1);
var schema = SchemaDefinition.Create(typeof(Row));
schema[nameof(Row.Image)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, 1, Size, Size);
schema[nameof(Row.Label)].ColumnType = new KeyDataViewType(typeof(uint), Classes);
IDataView data = mlContext.Data.LoadFromEnumerable(rows, schema);

var trainer = mlContext.Diffusion().Trainers.UViT(new UViTTrainerOptions
{
    MaxSteps = 30,
    BatchSize = 16,
    Sampling = new SamplerSettings { Sampler = SamplerKind.DpmSolverPlusPlus, Steps = 5, GuidanceScale = 1.0 },
});
string zip = Path.Combine(output, "model.zip");
using (var model = trainer.Fit(data))
    mlContext.Model.Save(model, data.Schema, zip);
Check(new FileInfo(zip).Length > 100_000, $"model zip {zip} is {new FileInfo(zip).Length} bytes");
Console.WriteLine($"consumer: trained 30 steps, saved {zip} ({new FileInfo(zip).Length:N0} bytes)");

// A new MLContext, as another process would have: load, then ask for (Label, Seed) rows.
var fresh = new MLContext(seed: 2).RegisterUViT();
using var generator = (UViTGenerationTransformer)fresh.Model.Load(zip, out _);
Check(generator.Generator.ClassCount == Classes, $"loaded generator has {generator.Generator.ClassCount} classes, expected {Classes}");
var requestSchema = SchemaDefinition.Create(typeof(Request));
requestSchema[nameof(Request.Label)].ColumnType = new KeyDataViewType(typeof(uint), Classes);
var requests = new[] { new Request { Label = 0, Seed = 11 }, new Request { Label = 1, Seed = 12 }, new Request { Label = 0, Seed = 11 } };
// Reading the column is what runs the sampler.
var images = generator.Transform(fresh.Data.LoadFromEnumerable(requests, requestSchema)).GetColumn<MLImage>(generator.ImageColumnName).ToList();

Check(images.Count == requests.Length, $"{images.Count} images for {requests.Length} requests");
foreach (var image in images)
    Check(image.Width == Size && image.Height == Size, $"generated image is {image.Width}x{image.Height}, expected {Size}x{Size}");
byte[] first = images[0].GetBGRPixels.ToArray(), second = images[1].GetBGRPixels.ToArray(), again = images[2].GetBGRPixels.ToArray();
Check(first.AsSpan().SequenceEqual(again), "the same (label, seed) gave different images");
Check(!first.AsSpan().SequenceEqual(second), "different requests gave the same image");
Check(first.Distinct().Count() > 1, "a generated image is one flat colour");
Console.WriteLine($"consumer: generated {images.Count} images of {Size}x{Size} from the reloaded zip");
Console.WriteLine("consumer: ok");
return 0;

static void Check(bool condition, string failure)
{
    if (condition) return;
    Console.Error.WriteLine($"consumer: FAILED: {failure}");
    Environment.Exit(1);
}

sealed class Row
{
    public float[] Image { get; set; } = [];
    public uint Label { get; set; }
}

sealed class Request
{
    public uint Label { get; set; }
    public long Seed { get; set; }
}
