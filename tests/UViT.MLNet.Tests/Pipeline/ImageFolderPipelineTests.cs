// The pipeline from image files: LoadImages -> ResizeImages -> ConvertToGrayscale -> ExtractPixels -> MapValueToKey ->
// U-ViT trainer, saved as one model zip; and generation from that zip in a separate process (the `uvit sample` CLI)
// giving exactly the images this process generates. And `uvit train` on such a folder: model zip, sample grid, loss plot.
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Image;
using SkiaSharp;
using UViT.MLNet.Core.Generation;
using UViT.MLNet.Core.Networks;
using UViT.MLNet.Estimators;
using UViT.MLNet.Tests.Samples;
using UViT.MLNet.Tests.Support;
using UViT.MLNet.Transforms.Generation;
using UViT.MLNet.Transforms.Persistence;
using UViT.MLNet.Samples;

namespace UViT.MLNet.Tests.Pipeline;

[TestClass]
public sealed class ImageFolderPipelineTests
{
    public TestContext TestContext { get; set; } = null!;

    public sealed class ImageFile
    {
        public string Path { get; set; } = "";
        public string ClassName { get; set; } = "";
    }

    /// <summary>Writes <paramref name="perClass"/> real digits of classes 0-2 as PNGs under FOLDER/digit-N/.</summary>
    private static List<ImageFile> WriteDigitFolder(string folder, int perClass)
    {
        var digits = PipelineFixture.Mnist(200);
        var files = new List<ImageFile>();
        var counts = new int[3];
        for (int i = 0; i < digits.Count && counts.Sum() < 3 * perClass; i++)
        {
            int label = digits.Labels[i];
            if (label > 2 || counts[label] == perClass) continue;
            string relative = System.IO.Path.Combine($"digit-{label}", $"{counts[label]++}.png");
            string path = System.IO.Path.Combine(folder, relative);
            Directory.CreateDirectory(System.IO.Path.GetDirectoryName(path)!);
            using var bitmap = new SKBitmap(new SKImageInfo(28, 28, SKColorType.Gray8));
            System.Runtime.InteropServices.Marshal.Copy(digits.Pixels, i * 784, bitmap.GetPixels(), 784);
            using var data = SKImage.FromBitmap(bitmap).Encode(SKEncodedImageFormat.Png, 100);
            File.WriteAllBytes(path, data.ToArray());
            files.Add(new ImageFile { Path = relative, ClassName = $"digit-{label}" });
        }
        return files;
    }

    [TestMethod]
    public void ImageFilesTrainSaveAndGenerateTheSameImagesInAnotherProcess()
    {
        string root = System.IO.Path.Combine(TestContext.TestRunDirectory ?? System.IO.Path.GetTempPath(), Guid.NewGuid().ToString("N"));
        string images = System.IO.Path.Combine(root, "images");
        var files = WriteDigitFolder(images, perClass: 6);

        var mlContext = new MLContext(seed: 1);
        var view = mlContext.Data.LoadFromEnumerable(files);
        var pipeline = mlContext.Transforms.LoadImages("Raw", images, nameof(ImageFile.Path))
            .Append(mlContext.Transforms.ResizeImages("Resized", 16, 16, "Raw"))
            .Append(mlContext.Transforms.ConvertToGrayscale("Grey", "Resized"))
            .Append(mlContext.Transforms.ExtractPixels("Image", "Grey", ImagePixelExtractingEstimator.ColorBits.Red))
            .Append(mlContext.Transforms.Conversion.MapValueToKey("Label", nameof(ImageFile.ClassName)))
            .Append(mlContext.Diffusion().Trainers.UViT(new UViTTrainerOptions
            {
                Network = new UViTConfig { ImageSize = 16, PatchSize = 4, InChannels = 1, EmbedDim = 32, Depth = 2, NumHeads = 2, NumClasses = 4 },
                MaxSteps = 3, BatchSize = 6, Seed = 3, Sampling = new SamplerSettings { Steps = 3, GuidanceScale = 1.5 },
            }));
        var model = pipeline.Fit(view);
        var generator = model.LastTransformer;
        CollectionAssert.AreEqual(new[] { "digit-0", "digit-1", "digit-2" }, generator.ClassNames.ToArray(), "class names come from the label's key values");

        string zip = System.IO.Path.Combine(root, "model.zip");
        mlContext.Model.Save(model, view.Schema, zip);

        // In this process: the grid the CLI draws (classes as rows, seeds 1000 + class * 2 + i).
        var fresh = new MLContext().RegisterUViT();
        var loaded = ((IEnumerable<ITransformer>)fresh.Model.Load(zip, out _)).OfType<UViTGenerationTransformer>().Single();
        var requests = Enumerable.Range(0, 3).SelectMany(c => Enumerable.Range(0, 2).Select(i => new PipelineFixture.Request { Label = (uint)c, Seed = 1000 + c * 2 + i })).ToList();
        var schema = SchemaDefinition.Create(typeof(PipelineFixture.Request));
        schema[nameof(PipelineFixture.Request.Label)].ColumnType = new KeyDataViewType(typeof(uint), 3);
        var output = loaded.Transform(fresh.Data.LoadFromEnumerable(requests, schema));
        var generated = new List<MLImage>();
        using (var cursor = output.GetRowCursor([output.Schema["GeneratedImage"]]))
        {
            var getter = cursor.GetGetter<MLImage>(output.Schema["GeneratedImage"]);
            MLImage image = null!;
            while (cursor.MoveNext()) { getter(ref image); generated.Add(image); }
        }
        string here = System.IO.Path.Combine(root, "here.png");
        ImageGrid.SavePng(here, generated, 2, loaded.ClassNames.ToList());

        // In another process: `uvit sample`.
        string there = System.IO.Path.Combine(root, "there.png");
        var (exitCode, log) = CliProcess.Run("sample", zip, "--per-class", "2", "--seed", "1000", "-o", there);
        Assert.AreEqual(0, exitCode, log);
        CollectionAssert.AreEqual(File.ReadAllBytes(here), File.ReadAllBytes(there), "the separate process generated different images:\n" + log);
    }

    [TestMethod]
    public void TrainCommandOnAFolderWritesModelSamplesAndLossPlot()
    {
        string root = System.IO.Path.Combine(TestContext.TestRunDirectory ?? System.IO.Path.GetTempPath(), Guid.NewGuid().ToString("N"));
        string images = System.IO.Path.Combine(root, "images"), output = System.IO.Path.Combine(root, "out");
        WriteDigitFolder(images, perClass: 4);
        // 12 steps with the CLI's report interval of 10: two loss reports (steps 10 and 12).
        var (exit, log) = CliProcess.Run("train", "--data", images, "--image-size", "16", "--grayscale", "--steps", "12", "--batch-size", "4",
                                         "--per-class", "1", "--sample-steps", "2", "--threads", "1", "-o", output);
        Assert.AreEqual(0, exit, log);
        SampleOutputs.AssertModelZip(System.IO.Path.Combine(output, "model.zip"), log);
        SampleOutputs.AssertPng(System.IO.Path.Combine(output, "samples.png"), 16, 16, log);
        SampleOutputs.AssertPngOfSize(System.IO.Path.Combine(output, "loss.png"), 800, 480, log);   // the CLI's LossPlot size
        StringAssert.Contains(log, "wrote " + System.IO.Path.Combine(output, "loss.png"));
    }
}
