// The captioned toy set behind `uvit shapes`: balanced classes, captions that name colour and shape, and a judge that reads
// both back from the pixels of real toy images (so its verdicts on generated images mean something). Then the sample
// itself, end to end on a tiny budget, in a separate process.
using Microsoft.ML;
using Microsoft.ML.Data;
using UViT.MLNet.Tests.Samples;
using UViT.MLNet.Tests.Support;
using UViT.MLNet.Samples;
using UViT.MLNet.Transforms.Persistence;

namespace UViT.MLNet.Tests.TextToImage;

[TestClass]
public sealed class ToyShapesTests
{
    public TestContext TestContext { get; set; } = null!;

    [TestMethod]
    public void ClassesAreBalancedAndCaptionsNameColourAndShape()
    {
        var rows = ToyShapes.Generate(120, size: 32, seed: 3);
        foreach (var group in rows.GroupBy(r => (r.Colour, r.Shape))) Assert.HasCount(10, group.ToList(), $"pair {group.Key}");
        foreach (var row in rows)
        {
            Assert.HasCount(3, row.Captions);
            foreach (string caption in row.Captions)
            {
                StringAssert.Contains(caption, ToyShapes.Colours[row.Colour].Name);
                StringAssert.Contains(caption, ToyShapes.Shapes[row.Shape]);
            }
            Assert.IsTrue(row.Image.All(v => v is >= 0 and <= 255));
        }
        var view = ToyShapes.ToDataView(new MLContext(seed: 0), rows);
        Assert.AreEqual(new VectorDataViewType(NumberDataViewType.Single, 3, 32, 32), view.Schema["Image"].Type);
        Assert.AreEqual(new VectorDataViewType(TextDataViewType.Instance, 3), view.Schema["Captions"].Type);
    }

    [TestMethod]
    public void JudgeReadsColourAndShapeOfRealToyImages()
    {
        var rows = ToyShapes.Generate(600, size: 16, seed: 9, jitter: 1);
        var verdicts = rows.Select(r => ToyShapes.Judge(r.Image)).ToList();
        double colour = rows.Where((r, i) => verdicts[i]?.Colour == r.Colour).Count() / (double)rows.Count;
        double shape = rows.Where((r, i) => verdicts[i]?.Shape == r.Shape).Count() / (double)rows.Count;
        Console.WriteLine($"judge on real toy images: colour {colour:P1}, shape {shape:P1}");
        Assert.AreEqual(1.0, colour, "colour is read exactly from clean images");
        Assert.IsGreaterThanOrEqualTo(0.95, shape);
        var blank = Enumerable.Repeat((float)ToyShapes.Background, 3 * 16 * 16).ToArray();
        Assert.IsNull(ToyShapes.Judge(blank), "an empty image has no shape");
    }

    [TestMethod]
    public void ShapesSampleTrainsSavesReloadsAndChecksPrompts()
    {
        string output = Path.Combine(TestContext.TestRunDirectory ?? Path.GetTempPath(), Guid.NewGuid().ToString("N") + "_shapes");
        var (exit, log) = CliProcess.Run("shapes", "--steps", "2", "--count", "24", "--batch-size", "8", "--per-prompt", "1", "--sample-steps", "2", "-o", output);
        Console.WriteLine(log);
        Assert.AreEqual(0, exit, log);
        Assert.IsTrue(File.Exists(Path.Combine(output, "shapes.png")));
        Assert.IsTrue(File.Exists(Path.Combine(output, "model.zip")));
        SampleOutputs.AssertPngOfSize(Path.Combine(output, "loss.png"), 800, 480, log);   // the CLI's LossPlot size
        StringAssert.Contains(log, "prompt check");
        StringAssert.Contains(log, "of 12 images");

        // The zip's input schema is what generation reads: prompts and seeds.
        var model = new MLContext().LoadChecked(Path.Combine(output, "model.zip"), out var schema);
        CollectionAssert.AreEqual(new[] { "Prompt", "Seed" }, schema.Select(c => c.Name).ToArray());
        (model as IDisposable)?.Dispose();

        // `uvit sample` on the text model it wrote: prompts from options and a file, one PNG per image beside the grid.
        string zip = Path.Combine(output, "model.zip"), perImage = Path.Combine(output, "each"), promptFile = Path.Combine(output, "prompts.txt");
        File.WriteAllLines(promptFile, [ToyShapes.Caption(1, 1), ""]);
        (exit, log) = CliProcess.Run("sample", zip, "--prompt", ToyShapes.Caption(0, 0), "--prompts", promptFile, "--count", "2", "--sample-steps", "1",
                                     "--out-dir", perImage, "-o", Path.Combine(output, "sampled.png"));
        Assert.AreEqual(0, exit, log);
        Assert.HasCount(4, Directory.GetFiles(perImage, "*.png"), log);
        Assert.IsTrue(File.Exists(Path.Combine(output, "sampled.png")), log);
        (exit, log) = CliProcess.Run("sample", zip, "--sample-steps", "1");
        Assert.AreEqual(1, exit, log);
        StringAssert.Contains(log, "--prompt", "a text model sampled without prompts should say how to give them");

        // `uvit fid model` on the text model: prompts from a file, against statistics of the images just drawn.
        string weights = Evaluation.FidFixtures.PathOf("inception.safetensors"), npz = Path.Combine(output, "each.npz");
        (exit, log) = CliProcess.Run("fid", "stats", perImage, "--weights", weights, "-o", npz);
        Assert.AreEqual(0, exit, log);
        (exit, log) = CliProcess.Run("fid", "model", zip, "--reference", npz, "--samples", "3", "--prompts", promptFile, "--sample-steps", "1", "--weights", weights);
        Assert.AreEqual(0, exit, log);
        StringAssert.Contains(log, "FID ");
        StringAssert.Contains(log, "prompt i mod 1");
        (exit, log) = CliProcess.Run("fid", "model", zip, "--reference", npz, "--samples", "3", "--weights", weights);
        Assert.AreEqual(1, exit, log);
        StringAssert.Contains(log, "--prompts");
    }
}
