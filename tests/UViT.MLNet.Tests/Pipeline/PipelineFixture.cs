// Shared pieces of the ML.NET pipeline tests: real MNIST digits (the copy shipped with the samples), a tiny network,
// and helpers to build generation requests and read generated columns.
using Microsoft.ML;
using Microsoft.ML.Data;
using UViT.MLNet.Transforms.Generation;
using UViT.MLNet.Core.Generation;
using UViT.MLNet.Core.Networks;
using UViT.MLNet.Estimators;
using UViT.MLNet.Samples;
using UViT.MLNet.Tests.Support;

namespace UViT.MLNet.Tests.Pipeline;

internal static class PipelineFixture
{
    public static string MnistFolder => Path.Combine(Fixtures.RepoRoot, "src", "Samples", "data", "mnist");

    public static IdxImageDataset Mnist(int count) =>
        IdxImageDataset.Read(Path.Combine(MnistFolder, "images-idx3-ubyte.gz"), Path.Combine(MnistFolder, "labels-idx1-ubyte.gz"), count);

    /// <summary>A tiny class-conditional network for 28x28 digits with 10 classes + the null class.</summary>
    public static UViTConfig TinyMnistNetwork => new() { ImageSize = 28, PatchSize = 7, InChannels = 1, EmbedDim = 32, Depth = 2, NumHeads = 2, NumClasses = 11 };

    public static UViTTrainerOptions TinyOptions(int steps = 4) => new()
    {
        Network = TinyMnistNetwork,
        MaxSteps = steps,
        BatchSize = 8,
        Seed = 7,
        Sampling = new SamplerSettings { Steps = 3, GuidanceScale = 1.0 },
        GenerationBatchSize = 4,
    };

    /// <summary>Rows (Label key, Seed) for generation; labels are 0-based classes (ML.NET stores a POCO key value v as key v + 1).</summary>
    public static IDataView Requests(MLContext mlContext, IEnumerable<(uint Class, long Seed)> rows, int classCount = 10)
    {
        var schema = SchemaDefinition.Create(typeof(Request));
        schema[nameof(Request.Label)].ColumnType = new KeyDataViewType(typeof(uint), classCount);
        return mlContext.Data.LoadFromEnumerable(rows.Select(r => new Request { Label = r.Class, Seed = r.Seed }).ToList(), schema);
    }

    public sealed class Request
    {
        public uint Label { get; set; }
        public long Seed { get; set; }
    }

    /// <summary>Every value of a vector column (GeneratedPixels by default), row after row.</summary>
    public static List<float[]> Pixels(IDataView view, string column = "GeneratedPixels") => view.ReadVectors(column);
}
