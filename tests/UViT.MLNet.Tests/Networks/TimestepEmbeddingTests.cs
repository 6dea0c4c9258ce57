// The sinusoidal timestep embedding against the official code at every width the fixture holds (emb{dim} tensors of
// timestep_embedding*.safetensors), within the manifest's embedding tolerance. Widths and times come from the fixture.
using UViT.MLNet.Core.Networks;
using UViT.MLNet.Tests.Support;
using static TorchSharp.torch;

namespace UViT.MLNet.Tests.Networks;

[TestClass]
public sealed class TimestepEmbeddingTests
{
    /// <summary>(tensor name, width) for each emb{dim} tensor of the timestep-embedding fixture.</summary>
    public static IEnumerable<object[]> Widths() =>
        Entry.Entry.GetProperty("tensors").EnumerateObject()
            .Select(t => t.Name)
            .Where(n => n.StartsWith("emb", StringComparison.Ordinal) && int.TryParse(n["emb".Length..], out _))
            .Select(n => new object[] { n, int.Parse(n["emb".Length..]) });

    private static (string File, System.Text.Json.JsonElement Entry) Entry =>
        Fixtures.ManifestFiles.Single(f => f.File.StartsWith("timestep_embedding", StringComparison.Ordinal));

    [TestMethod]
    public void FixtureHoldsEmbeddings() => Assert.IsNotEmpty(Widths().ToList(), "no emb{dim} tensors in the timestep-embedding fixture");

    [TestMethod]
    [DynamicData(nameof(Widths))]
    public void MatchesOfficialCode(string name, int dim)
    {
        using var scope = NewDisposeScope();
        var io = Fixtures.Tensors(Entry.File);
        var embedding = TimestepEmbedding.Compute(io["t"], dim);                 // [B, dim]
        CollectionAssert.AreEqual(io[name].shape, embedding.shape, name);
        double diff = Fixtures.MaxAbsDiff(embedding, io[name]);
        Console.WriteLine($"{name}: max |diff| = {diff:E3}");
        Assert.IsLessThanOrEqualTo(Fixtures.Tolerances.Embedding, diff, $"{name}: max |diff| = {diff:E3}");
    }
}
