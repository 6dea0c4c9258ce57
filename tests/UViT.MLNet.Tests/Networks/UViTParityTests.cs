// Parity of our U-ViT with the official code: every io fixture whose weights are a U-ViT is replayed and compared
// within the manifest's forward tolerance. Configs and tensors come from the fixture folder only.
using System.Text.Json;
using TorchSharp;
using UViT.MLNet.Core.Checkpoints;
using UViT.MLNet.Core.Networks;
using UViT.MLNet.Tests.Support;
using static TorchSharp.torch;

namespace UViT.MLNet.Tests.Networks;

[TestClass]
public sealed class UViTParityTests
{
    /// <summary>(io file, weights file) for each io fixture whose model is a U-ViT weights file; a weights file's .pth twin is added too.</summary>
    public static IEnumerable<object[]> Cases()
    {
        var files = Fixtures.ManifestFiles.ToDictionary(f => f.File, f => f.Entry);
        foreach (var (file, entry) in files)
        {
            if (entry.GetProperty("kind").GetString() != "io" || !entry.TryGetProperty("model", out var model) || !IsForwardCall(entry)) continue;
            string weights = model.GetString() + ".safetensors";
            if (!files.TryGetValue(weights, out var weightsEntry) || !IsUViT(weightsEntry)) continue;
            yield return [file, weights];
            foreach (var (twin, twinEntry) in files)
            {
                if (twinEntry.TryGetProperty("same_as", out var same) && same.GetString() == weights) yield return [file, twin];
            }
        }
    }

    // A forward-pass fixture records the inputs x, t and the output out (sampler fixtures record other tensors).
    private static bool IsForwardCall(JsonElement entry) =>
        entry.TryGetProperty("tensors", out var tensors) && new[] { "x", "t", "out" }.All(name => tensors.TryGetProperty(name, out _));

    private static bool IsUViT(JsonElement entry) =>
        entry.GetProperty("kind").GetString() == "weights" && entry.TryGetProperty("model", out var m) && m.GetString()!.StartsWith("UViT", StringComparison.Ordinal);

    /// <summary>Builds the weights file's model (config from the manifest) and loads it strictly.</summary>
    internal static UViTNetwork LoadModel(string weightsFile)
    {
        var files = Fixtures.ManifestFiles.ToDictionary(f => f.File, f => f.Entry);
        var entry = files[weightsFile];
        if (entry.TryGetProperty("same_as", out var same)) entry = files[same.GetString()!];
        var model = new UViTNetwork(UViTConfig.FromOfficialArguments(entry.GetProperty("config")));
        StateDictLoader.LoadFile(model, Fixtures.UViTPath(weightsFile));
        model.eval();
        return model;
    }

    [TestMethod]
    public void FixturesContainUViTCases()
    {
        var cases = Cases().ToList();
        Assert.IsGreaterThanOrEqualTo(3, cases.Count, "Expected at least the class, unconditional and text U-ViT io fixtures.");
        CollectionAssert.Contains(cases.Select(c => (string)c[1]).ToList(), "uvit_cls.pth", "The .pth twin of uvit_cls must be replayed too.");
    }

    [TestMethod]
    [DynamicData(nameof(Cases))]
    public void ForwardMatchesOfficialCode(string ioFile, string weightsFile) => AssertMatchesOfficial(ioFile, weightsFile, fusedAttention: true);

    [TestMethod]
    [DynamicData(nameof(Cases))]
    public void PlainAttentionPathMatchesOfficialCode(string ioFile, string weightsFile) => AssertMatchesOfficial(ioFile, weightsFile, fusedAttention: false);

    // On the device UVIT_TEST_DEVICE names (default cpu; scripts/gpu-check.sh sets cuda): the fixtures' inputs go there, the output comes back.
    private static void AssertMatchesOfficial(string ioFile, string weightsFile, bool fusedAttention)
    {
        var device = TestDevice.Get();
        using var model = LoadModel(weightsFile);
        model.to(device);
        model.UseFusedAttention = fusedAttention;
        using var scope = NewDisposeScope();
        var io = Fixtures.Tensors(ioFile);
        using var noGrad = no_grad();
        var output = model.forward(io["x"].to(device), io["t"].to(device), io.GetValueOrDefault("y")?.to(device), io.GetValueOrDefault("context")?.to(device)).cpu();
        double diff = Fixtures.MaxAbsDiff(output, io["out"]);
        Assert.IsLessThanOrEqualTo(Fixtures.Tolerances.Forward, diff, $"{weightsFile} ({(fusedAttention ? "fused" : "plain")} attention, {device}) on {ioFile}: max |diff| = {diff:E3}");
    }

    [TestMethod]
    [DynamicData(nameof(Cases))]
    public void FusedAndPlainAttentionAgree(string ioFile, string weightsFile)
    {
        using var model = LoadModel(weightsFile);
        using var scope = NewDisposeScope();
        var io = Fixtures.Tensors(ioFile);
        using var noGrad = no_grad();
        model.UseFusedAttention = true;
        var fused = model.forward(io["x"], io["t"], io.GetValueOrDefault("y"), io.GetValueOrDefault("context"));
        model.UseFusedAttention = false;
        var plain = model.forward(io["x"], io["t"], io.GetValueOrDefault("y"), io.GetValueOrDefault("context"));
        Assert.IsLessThanOrEqualTo(1e-5, Fixtures.MaxAbsDiff(fused, plain));
    }
}
