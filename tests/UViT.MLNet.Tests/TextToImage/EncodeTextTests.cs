// EncodeText as an ML.NET transform: contexts equal the official CLIP code's hidden states, several captions per row,
// the empty-prompt annotation, schema errors, and a model-zip round trip that needs no other file.
using Microsoft.ML;
using Microsoft.ML.Data;
using UViT.MLNet.Core.Text;
using UViT.MLNet.Tests.Pipeline;
using UViT.MLNet.Tests.Support;
using UViT.MLNet.Tests.Text;
using UViT.MLNet.Transforms.Persistence;
using UViT.MLNet.Transforms.Text;

namespace UViT.MLNet.Tests.TextToImage;

[TestClass]
public sealed class EncodeTextTests
{
    public TestContext TestContext { get; set; } = null!;

    private sealed class TextRow
    {
        public string Text { get; set; } = "";
    }

    [TestMethod]
    public void ContextsMatchTheOfficialHiddenStatesThroughTheTransform()
    {
        var mlContext = new MLContext(seed: 1);
        var texts = ClipFixtures.TokenizerCases.Select(c => c.Text).ToList();
        var data = mlContext.Data.LoadFromEnumerable(texts.Select(t => new TextRow { Text = t }));
        using var transformer = TextPipelineFixture.EncodeText(mlContext, "Text", batchSize: 3).Fit(data);   // batches of 3 over N rows
        var output = transformer.Transform(data);
        Assert.AreEqual(new VectorDataViewType(NumberDataViewType.Single, TextPipelineFixture.Tokens, TextPipelineFixture.Width), output.Schema["Context"].Type);

        var contexts = PipelineFixture.Pixels(output, "Context");
        var expected = ClipFixtures.Tensors("text_encoder_io.safetensors")["last_hidden_state"].data<float>().ToArray();
        int perText = TextPipelineFixture.Tokens * TextPipelineFixture.Width;
        double diff = 0;
        for (int i = 0; i < texts.Count; i++)
            for (int k = 0; k < perText; k++) diff = Math.Max(diff, Math.Abs(contexts[i][k] - expected[i * perText + k]));
        Console.WriteLine($"EncodeText vs official last_hidden_state: max |diff| = {diff:E3} over {texts.Count} texts");
        Assert.IsLessThanOrEqualTo(ClipFixtures.HiddenStateTolerance, diff);
    }

    [TestMethod]
    public void ColumnCarriesTheEmptyPromptContext()
    {
        var mlContext = new MLContext(seed: 1);
        var data = mlContext.Data.LoadFromEnumerable(new[] { new TextRow { Text = "" }, new TextRow { Text = "a red circle" } });
        using var transformer = TextPipelineFixture.EncodeText(mlContext, "Text").Fit(data);
        var output = transformer.Transform(data);
        var annotated = TextContextAnnotation.Read(output.Schema["Context"]);
        Assert.IsNotNull(annotated);
        Assert.AreEqual(TextPipelineFixture.Tokens, annotated.Value.Tokens);
        Assert.AreEqual(TextPipelineFixture.Width, annotated.Value.Width);
        var rows = PipelineFixture.Pixels(output, "Context");
        CollectionAssert.AreEqual(rows[0], annotated.Value.Values, "the annotation is the context of the empty prompt");
        CollectionAssert.AreEqual(rows[0], transformer.EmptyContext.Cast<float>().ToArray());
        CollectionAssert.AreNotEqual(rows[0], rows[1]);
    }

    [TestMethod]
    public void SeveralCaptionsPerRowGiveOneContextEach()
    {
        var mlContext = new MLContext(seed: 1);
        var data = TextPipelineFixture.CaptionedImages(mlContext, 3);
        using var single = TextPipelineFixture.EncodeText(mlContext, "Caption").Fit(data);
        using var multiple = TextPipelineFixture.EncodeText(mlContext, "Captions", batchSize: 4).Fit(data);
        var many = multiple.Transform(data);
        Assert.AreEqual(new VectorDataViewType(NumberDataViewType.Single, 2, TextPipelineFixture.Tokens, TextPipelineFixture.Width), many.Schema["Context"].Type);
        var first = PipelineFixture.Pixels(single.Transform(data), "Context");
        var both = PipelineFixture.Pixels(many, "Context");
        int perText = TextPipelineFixture.Tokens * TextPipelineFixture.Width;
        for (int i = 0; i < 3; i++)
        {
            Assert.HasCount(2 * perText, both[i]);
            double diff = first[i].Select((v, k) => Math.Abs(v - both[i][k])).Max();
            Assert.IsLessThanOrEqualTo(1e-5, diff, $"row {i}: caption 0 alone vs in a batch of captions");
            CollectionAssert.AreNotEqual(both[i][..perText], both[i][perText..], $"row {i}: two different captions give one context");
        }
    }

    [TestMethod]
    public void VariableCaptionCountsGiveVariableLengthContexts()
    {
        var mlContext = new MLContext(seed: 1);
        var data = mlContext.Data.LoadFromEnumerable(new[] { new Captions { Texts = ["one"] }, new Captions { Texts = ["two", "three", "four"] } });
        using var transformer = TextPipelineFixture.EncodeText(mlContext, "Texts").Fit(data);
        var output = transformer.Transform(data);
        Assert.AreEqual(new VectorDataViewType(NumberDataViewType.Single), output.Schema["Context"].Type);
        var rows = PipelineFixture.Pixels(output, "Context");
        Assert.HasCount(TextPipelineFixture.Tokens * TextPipelineFixture.Width, rows[0]);
        Assert.HasCount(3 * TextPipelineFixture.Tokens * TextPipelineFixture.Width, rows[1]);
    }

    private sealed class Captions
    {
        public string[] Texts { get; set; } = [];
    }

    [TestMethod]
    public void WrongColumnsFailNamingThem()
    {
        var mlContext = new MLContext(seed: 1);
        var data = mlContext.Data.LoadFromEnumerable(new[] { new TextRow { Text = "x" } });
        var missing = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => TextPipelineFixture.EncodeText(mlContext, "Prompt").Fit(data));
        StringAssert.Contains(missing.Message, "'Prompt' not found");
        var numbers = mlContext.Data.LoadFromEnumerable(new[] { new NumberRow { Prompt = 1f } });
        var wrongType = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => TextPipelineFixture.EncodeText(mlContext, "Prompt").Fit(numbers));
        StringAssert.Contains(wrongType.Message, "must hold text");
        var noFolder = Assert.ThrowsExactly<FileNotFoundException>(() => mlContext.Transforms.EncodeText(Path.Combine(Path.GetTempPath(), Guid.NewGuid().ToString("N"))));
        StringAssert.Contains(noFolder.Message, "config.json");
    }

    private sealed class NumberRow
    {
        public float Prompt { get; set; }
    }

    [TestMethod]
    public void ModelZipHoldsTokenizerAndWeightsAndGivesIdenticalContexts()
    {
        var mlContext = new MLContext(seed: 1);
        var data = mlContext.Data.LoadFromEnumerable(new[] { new TextRow { Text = "a red circle" }, new TextRow { Text = "A Blue  square!" } });
        using var transformer = TextPipelineFixture.EncodeText(mlContext, "Text").Fit(data);
        var before = PipelineFixture.Pixels(transformer.Transform(data), "Context");
        string zip = Path.Combine(TestContext.TestRunDirectory ?? Path.GetTempPath(), Guid.NewGuid().ToString("N") + "_text.zip");
        mlContext.Model.Save(transformer, data.Schema, zip);

        var fresh = new MLContext(seed: 5).RegisterUViT();
        var loaded = fresh.Model.Load(zip, out _);
        var after = PipelineFixture.Pixels(loaded.Transform(data), "Context");
        for (int i = 0; i < before.Count; i++) CollectionAssert.AreEqual(before[i], after[i], $"row {i}: context differs after loading");
        var reloadedEncoder = loaded as TextEncodingTransformer ?? (TextEncodingTransformer)((TransformerChain<ITransformer>)loaded).LastTransformer;
        CollectionAssert.AreEqual(ClipTokenizer.FromFiles(TextPipelineFixture.Clip.VocabPath, TextPipelineFixture.Clip.MergesPath).Encode("a red circle"),
                                  reloadedEncoder.Encoder.Tokenizer.Encode("a red circle"), "the zip's tokenizer is the original's");
        (loaded as IDisposable)?.Dispose();
    }
}
