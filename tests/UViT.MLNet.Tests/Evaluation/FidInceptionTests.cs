// The FID Inception network against pytorch-fid (U-ViT's tools copy): exact checkpoint keys and shapes from fid.json,
// and pool3 features of the fixture inputs within the README's tolerance.
using UViT.MLNet.Core.Checkpoints;
using UViT.MLNet.Core.Evaluation;
using static TorchSharp.torch;

namespace UViT.MLNet.Tests.Evaluation;

[TestClass]
public sealed class FidInceptionTests
{
    private static FidInceptionV3? _network;

    /// <summary>The fixture weights (float16 in the file), loaded strictly once for the class: the network is the slow part.</summary>
    private static FidInceptionV3 Network => _network ??= FidInceptionV3.Load(FidFixtures.PathOf("inception.safetensors"));

    [ClassCleanup]
    public static void Cleanup()
    {
        _network?.Dispose();
        _network = null;
    }

    [TestMethod]
    public void StateDictHasExactlyTheOfficialKeysAndShapes()
    {
        using var network = new FidInceptionV3(device("meta"));
        var expected = FidFixtures.Manifest.GetProperty("inception").GetProperty("keys").EnumerateObject()
                                   .ToDictionary(p => p.Name, p => string.Join(",", p.Value.EnumerateArray().Select(v => v.GetInt64())));
        var actual = network.state_dict().ToDictionary(kv => kv.Key, kv => string.Join(",", kv.Value.shape));
        CollectionAssert.AreEquivalent(expected.Keys.ToList(), actual.Keys.ToList(), "key names");
        foreach (var (key, shape) in expected) Assert.AreEqual(shape, actual[key], key);
    }

    [TestMethod]
    public void ParametersAreRegisteredInTheOfficialKeyOrder()
    {
        // TorchSharp's state_dict lists all parameters before all buffers (PyTorch interleaves them per module),
        // so the official order is compared on the parameters alone.
        using var network = new FidInceptionV3(device("meta"));
        var parameterNames = network.named_parameters().Select(p => p.name).ToList();
        var official = FidFixtures.Manifest.GetProperty("inception").GetProperty("keys").EnumerateObject()
                                   .Select(p => p.Name).Where(parameterNames.Contains).ToList();
        CollectionAssert.AreEqual(official, parameterNames);
    }

    [TestMethod]
    public void ParameterCountMatchesManifest()
    {
        using var network = new FidInceptionV3(device("meta"));
        long expected = FidFixtures.Manifest.GetProperty("inception").GetProperty("params").GetInt64();
        // The manifest counts parameters and BatchNorm running statistics (every tensor but num_batches_tracked).
        long actual = network.state_dict().Where(kv => !kv.Key.EndsWith("num_batches_tracked", StringComparison.Ordinal)).Sum(kv => kv.Value.numel());
        Assert.AreEqual(expected, actual);
    }

    [TestMethod]
    public void NetworkIsInEvalModeWithoutGradientsAndBatchNormEpsFromTensorFlow()
    {
        var network = Network;
        Assert.IsFalse(network.training);
        Assert.IsTrue(network.parameters().All(p => !p.requires_grad));
        Assert.IsTrue(network.modules().OfType<TorchSharp.Modules.BatchNorm2d>().All(bn => bn.eps == 0.001));
        Assert.AreEqual(ScalarType.Float32, network.parameters().First().dtype, "float16 fixture weights load as float32");
    }

    [TestMethod]
    [DataRow("x_small", "features_small")]
    [DataRow("x_299", "features_299")]
    public void FeaturesMatchPytorchFid(string input, string output)
    {
        using var scope = NewDisposeScope();
        var io = FidFixtures.Tensors("inception_io.safetensors");
        var features = Network.forward(io[input]);                          // [N, 2048]
        CollectionAssert.AreEqual(io[output].shape, features.shape);
        double diff = Support.Fixtures.MaxAbsDiff(features, io[output]);
        Console.WriteLine($"{input}: max |diff| = {diff:E3}");
        Assert.IsLessThanOrEqualTo(FidFixtures.Tolerances.Features, diff, $"{input}: max |diff| = {diff:E3}");
    }

    [TestMethod]
    public void LogitsAreTheFcLayerOnPool3()
    {
        using var scope = NewDisposeScope();
        var io = FidFixtures.Tensors("inception_io.safetensors");
        var features = io["features_small"];                                // [N, 2048]
        var state = Network.state_dict();
        var logits = Network.Logits(features);                              // [N, 1008]
        var unbiased = Network.UnbiasedLogits(features);                    // [N, 1008]
        CollectionAssert.AreEqual(new long[] { features.shape[0], FidInceptionV3.LogitCount }, logits.shape);
        var expected = features.to(ScalarType.Float64).matmul(state["fc.weight"].to(ScalarType.Float64).T); // [N, 1008]
        Assert.IsLessThanOrEqualTo(1e-4, Support.Fixtures.MaxAbsDiff(unbiased, expected));
        Assert.IsLessThanOrEqualTo(1e-4, Support.Fixtures.MaxAbsDiff(logits, expected + state["fc.bias"].to(ScalarType.Float64)));
    }

    [TestMethod]
    public void RejectsNonImageInput()
    {
        using var scope = NewDisposeScope();
        Assert.ThrowsExactly<ArgumentException>(() => Network.forward(zeros(1, 1, 32, 32)));
        Assert.ThrowsExactly<ArgumentException>(() => Network.forward(zeros(3, 32, 32)));
        Assert.ThrowsExactly<ArgumentException>(() => Network.forward(zeros(new long[] { 1, 3, 32, 32 }, ScalarType.Byte)));
        Assert.ThrowsExactly<ArgumentException>(() => Network.Logits(zeros(1, 100)));
    }

    [TestMethod]
    public void LoadingAUViTCheckpointNamesTheMismatchedKeys()
    {
        var weights = Directory.GetFiles(Support.Fixtures.UViTFolder, "*.safetensors").First(f => Path.GetFileName(f).StartsWith("uvit", StringComparison.Ordinal));
        var error = Assert.ThrowsExactly<CheckpointMismatchException>(() => FidInceptionV3.Load(weights).Dispose());
        StringAssert.Contains(error.Message, "Conv2d_1a_3x3.conv.weight");
    }
}
