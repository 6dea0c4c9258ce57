// The prompt-to-context facade: tokenizer + model end to end against the official code's hidden states, batching, the
// empty-prompt (unconditional) context, and loading a Hugging Face model folder.
using UViT.MLNet.Core.Text;
using UViT.MLNet.Tests.Support;
using static TorchSharp.torch;

namespace UViT.MLNet.Tests.Text;

[TestClass]
public sealed class ClipTextEncoderTests
{
    private static ClipTextEncoder LoadSmall() => ClipTextEncoder.Load(ClipFixtures.SmallFiles);

    [TestMethod]
    public void PromptsGiveTheOfficialContextsInOneBatch()
    {
        using var scope = NewDisposeScope();
        using var encoder = LoadSmall();
        var io = ClipFixtures.Tensors("text_encoder_io.safetensors");
        var texts = ClipFixtures.TokenizerCases.Select(c => c.Text).ToList();
        var contexts = encoder.Encode(texts);                                         // [N, 77, D]
        CollectionAssert.AreEqual(new long[] { texts.Count, encoder.ContextLength, encoder.ContextDim }, contexts.shape);
        double diff = Fixtures.MaxAbsDiff(contexts, io["last_hidden_state"]);
        Console.WriteLine($"prompts -> contexts: max |diff| = {diff:E3}");
        Assert.IsLessThanOrEqualTo(ClipFixtures.HiddenStateTolerance, diff);
        // One prompt alone gives its row of the batch (the last one: any fixture has it).
        int last = texts.Count - 1;
        Assert.IsLessThanOrEqualTo(1e-5, Fixtures.MaxAbsDiff(encoder.Encode(texts[last])[0], contexts[last]));
    }

    [TestMethod]
    public void UnconditionalContextIsTheEmptyPrompt()
    {
        using var scope = NewDisposeScope();
        using var encoder = LoadSmall();
        var unconditional = encoder.UnconditionalContext();                           // [1, T, D]
        CollectionAssert.AreEqual(new long[] { 1, encoder.ContextLength, encoder.ContextDim }, unconditional.shape);
        // The official hidden state of a text with no tokens when the fixture has one; else the model on the README's
        // framing of no tokens: the start token, then the end token (and end-token padding), as every fixture row begins
        // and ends.
        var cases = ClipFixtures.TokenizerCases;
        int empty = cases.ToList().FindIndex(c => ClipTextNormalizer.Instance.Normalize(c.Text).Length == 0);
        Tensor expected;
        if (empty >= 0)
        {
            expected = ClipFixtures.Tensors("text_encoder_io.safetensors")["last_hidden_state"][empty];          // [T, D]
        }
        else
        {
            var ids = Enumerable.Repeat((long)cases[0].Ids[^1], encoder.ContextLength).ToArray();
            ids[0] = cases[0].Ids[0];
            using var noGrad = no_grad();
            expected = encoder.Model.forward(tensor(ids, [1, ids.Length]))[0];                                     // [T, D]
        }
        Assert.IsLessThanOrEqualTo(ClipFixtures.HiddenStateTolerance, Fixtures.MaxAbsDiff(unconditional[0], expected));
        unconditional.Dispose();
        Assert.IsTrue(Fixtures.Identical(encoder.Encode(""), encoder.UnconditionalContext()), "the cached copy survives the caller disposing its own");
    }

    [TestMethod]
    public void LoadsAHuggingFaceModelFolder()
    {
        string folder = Directory.CreateTempSubdirectory("clip-hf-").FullName;
        try
        {
            File.Copy(ClipFixtures.PathOf("vocab.json"), Path.Combine(folder, "vocab.json"));
            File.Copy(ClipFixtures.PathOf("merges.txt"), Path.Combine(folder, "merges.txt"));
            File.Copy(ClipFixtures.PathOf("text_encoder.safetensors"), Path.Combine(folder, "model.safetensors"));
            string config = ClipFixtures.EncoderManifest.GetProperty("config").GetRawText();
            File.WriteAllText(Path.Combine(folder, "config.json"), $$$"""{"text_config": {{{config}}}, "vision_config": {"hidden_size": 1024}}""");
            using var encoder = ClipTextEncoder.LoadFolder(folder);
            Assert.AreEqual(ClipFixtures.SmallConfig, encoder.Model.Config);
            File.Delete(Path.Combine(folder, "merges.txt"));
            StringAssert.Contains(Assert.ThrowsExactly<FileNotFoundException>(() => ClipTextEncoder.LoadFolder(folder)).Message, "merges.txt");
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
