// The autoencoder fixtures, located through the manifest only: the io file is the entry whose model is "autoencoder",
// its weights are "<model>.safetensors", and the config is that weights entry's ddconfig + embed_dim.
using System.Text.Json;
using UViT.MLNet.Core.Autoencoder;
using UViT.MLNet.Core.Checkpoints;
using UViT.MLNet.Tests.Support;

namespace UViT.MLNet.Tests.Autoencoder;

internal static class AutoencoderFixture
{
    /// <summary>(io file, weights file, weights entry) of the autoencoder fixture.</summary>
    public static (string IoFile, string WeightsFile, JsonElement WeightsEntry) Files()
    {
        var files = Fixtures.ManifestFiles.ToDictionary(f => f.File, f => f.Entry);
        var (ioFile, io) = files.Single(f => f.Value.GetProperty("kind").GetString() == "io" &&
                                             f.Value.TryGetProperty("model", out var m) && m.GetString()!.StartsWith("autoencoder", StringComparison.Ordinal));
        string weights = io.GetProperty("model").GetString() + ".safetensors";
        Assert.IsTrue(files.ContainsKey(weights), $"manifest has no weights entry '{weights}' for '{ioFile}'");
        return (ioFile, weights, files[weights]);
    }

    /// <summary>The fixture autoencoder's config (scale factor as recorded by the io file when given).</summary>
    public static AutoencoderKLConfig Config(double? scaleFactor = null) => AutoencoderKLConfig.FromOfficialEntry(Files().WeightsEntry, scaleFactor);

    /// <summary>The fixture autoencoder with its weights loaded strictly, in eval mode.</summary>
    public static AutoencoderKL LoadModel(double? scaleFactor = null)
    {
        var model = new AutoencoderKL(Config(scaleFactor));
        StateDictLoader.LoadFile(model, Fixtures.UViTPath(Files().WeightsFile));
        model.eval();
        return model;
    }
}
