// The CLIP text transformer: Hugging Face CLIPTextModel keys/shapes/parameter count of ViT-L/14 (on META), strict loading of
// CLIPTextModel and full CLIPModel files, and last_hidden_state parity with the official code (text_encoder_io.safetensors).
using UViT.MLNet.Core.Checkpoints;
using UViT.MLNet.Core.Text;
using UViT.MLNet.Tests.Support;
using static TorchSharp.torch;

namespace UViT.MLNet.Tests.Text;

[TestClass]
public sealed class ClipTextModelTests
{
    private static ClipTextModel LoadSmall()
    {
        var model = new ClipTextModel(ClipFixtures.SmallConfig);
        ClipTextCheckpoint.LoadFile(model, ClipFixtures.PathOf("text_encoder.safetensors"));
        return model;
    }

    [TestMethod]
    public void VitL14MatchesTheKeyTableAndParameterCount()
    {
        var table = ClipFixtures.EncoderManifest.GetProperty("vit_l14_text");
        var expected = table.GetProperty("keys").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.EnumerateArray().Select(v => v.GetInt64()).ToArray());
        using var model = new ClipTextModel(ClipTextConfig.VitL14, device: META);
        var ours = model.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.shape);
        CollectionAssert.AreEquivalent(expected.Keys.ToList(), ours.Keys.ToList(), "state-dict keys differ");
        foreach (var (key, shape) in expected) CollectionAssert.AreEqual(shape, ours[key], $"shape of {key}");
        // Registration order = Hugging Face's key order.
        CollectionAssert.AreEqual(expected.Keys.ToList(), model.named_parameters().Select(p => p.name).ToList());
        Assert.AreEqual(table.GetProperty("params").GetInt64(), model.ParameterCount);
    }

    [TestMethod]
    public void SmallConfigMatchesTheFixtureWeights()
    {
        using var scope = NewDisposeScope();
        var weights = ClipFixtures.Tensors("text_encoder.safetensors");
        using var model = new ClipTextModel(ClipFixtures.SmallConfig, device: META);
        var ours = model.state_dict();
        CollectionAssert.AreEquivalent(weights.Keys.ToList(), ours.Keys.ToList());
        foreach (var (key, tensor) in weights) CollectionAssert.AreEqual(tensor.shape, ours[key].shape, key);
    }

    [TestMethod]
    public void LastHiddenStateMatchesTheOfficialCode()
    {
        using var scope = NewDisposeScope();
        using var model = LoadSmall();
        var io = ClipFixtures.Tensors("text_encoder_io.safetensors");
        using var noGrad = no_grad();
        var hidden = model.forward(io["input_ids"]);                              // [N, 77, D]
        CollectionAssert.AreEqual(io["last_hidden_state"].shape, hidden.shape);
        double diff = Fixtures.MaxAbsDiff(hidden, io["last_hidden_state"]);
        Console.WriteLine($"CLIP text last_hidden_state: max |diff| = {diff:E3}");
        Assert.IsLessThanOrEqualTo(ClipFixtures.HiddenStateTolerance, diff, $"max |diff| = {diff:E3}");
    }

    [TestMethod]
    public void AttentionIsCausal()
    {
        using var scope = NewDisposeScope();
        using var model = LoadSmall();
        using var noGrad = no_grad();
        var ids = ClipFixtures.Tensors("text_encoder_io.safetensors")["input_ids"][TensorIndex.Slice(0, 2)];   // [2, 77]
        var changed = ids.clone();
        changed[TensorIndex.Colon, 10] = tensor(320L);                                                         // a token in the middle
        var a = model.forward(ids);                                                                            // [2, 77, D]
        var b = model.forward(changed);                                                                        // [2, 77, D]
        Assert.IsTrue(Fixtures.Identical(a[TensorIndex.Colon, TensorIndex.Slice(0, 10)], b[TensorIndex.Colon, TensorIndex.Slice(0, 10)]), "earlier tokens must not see later ones");
        Assert.IsGreaterThan(0.0, Fixtures.MaxAbsDiff(a[TensorIndex.Colon, 10], b[TensorIndex.Colon, 10]));
    }

    [TestMethod]
    public void FullClipModelFileLoadsWithVisionKeysAndPositionIdsSkipped()
    {
        using var scope = NewDisposeScope();
        var state = ClipFixtures.Tensors("text_encoder.safetensors");
        state["vision_model.embeddings.class_embedding"] = zeros(8);
        state["vision_model.encoder.layers.0.mlp.fc1.weight"] = zeros(4, 8);
        state["visual_projection.weight"] = zeros(4, 8);
        state["text_projection.weight"] = zeros(4, ClipFixtures.SmallConfig.HiddenSize);
        state["logit_scale"] = tensor(2.6592f);
        state[ClipTextCheckpoint.PositionIdsKey] = arange(ClipFixtures.SmallConfig.MaxPositionEmbeddings).unsqueeze(0);
        string path = Path.Combine(Path.GetTempPath(), $"clip-full-{Guid.NewGuid():N}.safetensors");
        try
        {
            StateDictFile.WriteSafetensors(path, state);
            using var model = new ClipTextModel(ClipFixtures.SmallConfig);
            var skipped = ClipTextCheckpoint.LoadFile(model, path);
            Assert.HasCount(6, skipped);
            using var noGrad = no_grad();
            var io = ClipFixtures.Tensors("text_encoder_io.safetensors");
            Assert.IsLessThanOrEqualTo(ClipFixtures.HiddenStateTolerance, Fixtures.MaxAbsDiff(model.forward(io["input_ids"]), io["last_hidden_state"]));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [TestMethod]
    public void OtherMismatchesFailNamingTheKeys()
    {
        using var scope = NewDisposeScope();
        var state = ClipFixtures.Tensors("text_encoder.safetensors");
        state.Remove("text_model.final_layer_norm.bias");
        state["text_model.encoder.layers.0.self_attn.qkv.weight"] = zeros(3);
        state["text_model.embeddings.position_embedding.weight"] = zeros(5, ClipFixtures.SmallConfig.HiddenSize);
        using var model = new ClipTextModel(ClipFixtures.SmallConfig);
        var error = Assert.ThrowsExactly<CheckpointMismatchException>(() => ClipTextCheckpoint.Load(model, state, "test"));
        CollectionAssert.AreEqual(new[] { "text_model.final_layer_norm.bias" }, error.MissingKeys.ToArray());
        CollectionAssert.AreEqual(new[] { "text_model.encoder.layers.0.self_attn.qkv.weight" }, error.UnexpectedKeys.ToArray());
        StringAssert.Contains(error.Message, "text_model.embeddings.position_embedding.weight");
    }

    [TestMethod]
    public void MalformedInputsFailClearly()
    {
        using var scope = NewDisposeScope();
        using var model = new ClipTextModel(ClipFixtures.SmallConfig);
        int positions = ClipFixtures.SmallConfig.MaxPositionEmbeddings, vocab = ClipFixtures.SmallConfig.VocabSize;
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentException>(() => model.forward(zeros(positions, dtype: ScalarType.Int64))).Message, "[B, L]");
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentException>(() => model.forward(zeros(1, positions + 1, dtype: ScalarType.Int64))).Message, $"1 to {positions}");
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentException>(() => model.forward(zeros(1, 4))).Message, "integer");
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentException>(() => model.forward(full(1, 4, vocab, dtype: ScalarType.Int64))).Message, $"{vocab} entries");
    }

    [TestMethod]
    public void ConfigReadsHuggingFaceJsonAndRejectsNonsense()
    {
        var json = System.Text.Json.JsonDocument.Parse("""{"text_config": {"hidden_size": 768, "intermediate_size": 3072, "num_attention_heads": 12, "num_hidden_layers": 12}, "vision_config": {}}""").RootElement;
        Assert.AreEqual(ClipTextConfig.VitL14, ClipTextConfig.FromJson(json));
        Assert.ThrowsExactly<ArgumentException>(() => ClipTextConfig.FromJson(System.Text.Json.JsonDocument.Parse("""{"hidden_act": "relu"}""").RootElement));
        Assert.ThrowsExactly<ArgumentException>(() => (ClipTextConfig.VitL14 with { NumAttentionHeads = 5 }).Validate());
    }
}
