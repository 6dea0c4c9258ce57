// The sampler fixture: its model (config and null class from the manifest), inputs (z_init, y, cfg_scale), and the
// guided noise predictor the official code sampled with. Nothing about the fixture set is hard-coded.
using System.Text.Json;
using UViT.MLNet.Core.Diffusion;
using UViT.MLNet.Core.Networks;
using UViT.MLNet.Tests.Networks;
using UViT.MLNet.Tests.Support;
using static TorchSharp.torch;

namespace UViT.MLNet.Tests.Diffusion;

internal static class SamplerFixture
{
    /// <summary>The io fixture that records sampler outputs (it holds z_init).</summary>
    public static (string File, JsonElement Entry) Io =>
        Fixtures.ManifestFiles.Single(f => f.Entry.GetProperty("kind").GetString() == "io"
                                           && f.Entry.GetProperty("tensors").TryGetProperty("z_init", out _));

    /// <summary>Its weights file's name and manifest entry.</summary>
    public static (string File, JsonElement Entry) Weights
    {
        get
        {
            string weights = Io.Entry.GetProperty("model").GetString() + ".safetensors";
            return Fixtures.ManifestFiles.Single(f => f.File == weights);
        }
    }

    /// <summary>Sampler output tensors named {prefix}{S} (S = steps), e.g. discrete_dpmpp_50.</summary>
    public static IEnumerable<object[]> Cases(string prefix) =>
        Io.Entry.GetProperty("tensors").EnumerateObject()
            .Select(t => t.Name)
            .Where(n => n.StartsWith(prefix, StringComparison.Ordinal) && int.TryParse(n[prefix.Length..], out _))
            .Select(n => new object[] { n, int.Parse(n[prefix.Length..]) });

    public static UViTNetwork LoadModel() => UViTParityTests.LoadModel(Weights.File);

    public static long NullClass => Weights.Entry.GetProperty("null_class").GetInt64();

    /// <summary>eps_c + s (eps_c - eps_u) with s = the fixture's cfg_scale and u = the null class.</summary>
    public static NoisePredictor Guided(UViTNetwork model, Dictionary<string, Tensor> io) =>
        ClassifierFreeGuidance.ForClassLabels(model, io["y"], NullClass, GuidanceWeight.FromExtraWeight(io["cfg_scale"].item<float>()));
}
