// Parity of our AutoencoderKL with the official code (fixture autoencoder_io: the manifest's "call" says how each tensor
// was made). Config, tensors, scale factor and tolerance all come from the fixture folder.
using UViT.MLNet.Core.Autoencoder;
using UViT.MLNet.Tests.Support;
using static TorchSharp.torch;

namespace UViT.MLNet.Tests.Autoencoder;

[TestClass]
public sealed class AutoencoderParityTests
{
    public TestContext TestContext { get; set; } = null!;

    private static (AutoencoderKL Model, Dictionary<string, Tensor> Io) Load()
    {
        var io = Fixtures.Tensors(AutoencoderFixture.Files().IoFile);
        double scale = io["scale_factor"].to(ScalarType.Float64).item<double>();
        return (AutoencoderFixture.LoadModel(scale), io);
    }

    private void Check(string name, Tensor ours, Tensor expected)
    {
        CollectionAssert.AreEqual(expected.shape, ours.shape, $"shape of {name}");
        double diff = Fixtures.MaxAbsDiff(ours, expected);
        TestContext.WriteLine($"{name}: max |diff| = {diff:E3}");
        Assert.IsLessThanOrEqualTo(Fixtures.Tolerances.Forward, diff, $"{name}: max |diff| = {diff:E3}");
    }

    [TestMethod]
    [DataRow(true)]
    [DataRow(false)]
    public void MomentsMatchOfficialCode(bool fusedAttention)
    {
        var (model, io) = Load();
        using var _ = model;
        model.UseFusedAttention = fusedAttention;
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        Check($"moments (fused={fusedAttention})", model.Moments(io["x"]), io["moments"]);
    }

    [TestMethod]
    [DataRow(true)]
    [DataRow(false)]
    public void DecodedMatchesOfficialCode(bool fusedAttention)
    {
        var (model, io) = Load();
        using var _ = model;
        model.UseFusedAttention = fusedAttention;
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        Check($"decoded (fused={fusedAttention})", model.Decode(io["z"]), io["decoded"]);
    }

    [TestMethod]
    public void SampledMatchesOfficialCode()
    {
        var (model, io) = Load();
        using var _ = model;
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        // From the recorded moments (the official formula alone) and end to end from the images.
        Check("sampled (from recorded moments)", model.SampleLatent(io["moments"], io["sample_noise"]), io["sampled"]);
        Check("sampled (encoded from x)", model.Encode(io["x"], io["sample_noise"]), io["sampled"]);
    }

    [TestMethod]
    public void MicroBatchingDoesNotChangeResults()
    {
        var (model, io) = Load();
        using var _ = model;
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var whole = model.Decode(io["z"]);
        var wholeMoments = model.Moments(io["x"]);
        model.MicroBatchSize = 1;
        // Not bit-equal: libtorch picks batch-size-dependent conv kernels; far inside the parity tolerance.
        Assert.IsLessThanOrEqualTo(1e-5, Fixtures.MaxAbsDiff(whole, model.Decode(io["z"])));
        Assert.IsLessThanOrEqualTo(1e-5, Fixtures.MaxAbsDiff(wholeMoments, model.Moments(io["x"])));
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => model.MicroBatchSize = 0);
    }

    [TestMethod]
    public void EncodeIsReproducibleWithASeedAndMeanIsDeterministic()
    {
        var (model, io) = Load();
        using var _ = model;
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var x = io["x"];
        using var g1 = new Generator(7);
        using var g2 = new Generator(7);
        using var g3 = new Generator(8);
        var a = model.Encode(x, generator: g1);
        var b = model.Encode(x, generator: g2);
        var c = model.Encode(x, generator: g3);
        Assert.IsTrue(Fixtures.Identical(a, b), "the same seed must give the same latents");
        Assert.IsFalse(Fixtures.Identical(a, c), "different seeds must give different latents");

        var mean = model.Encode(x, sample: false);
        var (expectedMean, _) = AutoencoderKL.SplitMoments(io["moments"]);
        Check("scaled mean", mean, expectedMean * model.Config.ScaleFactor);
    }

    [TestMethod]
    public void BadInputsFailWithClearMessages()
    {
        using var model = new AutoencoderKL(AutoencoderFixture.Config());
        var config = model.Config;
        int f = config.DownsampleFactor;
        using var scope = NewDisposeScope();

        var channels = Assert.ThrowsExactly<ArgumentException>(() => model.Moments(zeros(1, config.InChannels + 1, 2 * f, 2 * f)));
        StringAssert.Contains(channels.Message, $"[B, {config.InChannels}, H, W]");
        var size = Assert.ThrowsExactly<ArgumentException>(() => model.Moments(zeros(1, config.InChannels, 2 * f + 1, 2 * f)));
        StringAssert.Contains(size.Message, $"multiples of {f}");
        var rank = Assert.ThrowsExactly<ArgumentException>(() => model.Moments(zeros(config.InChannels, 2 * f, 2 * f)));
        StringAssert.Contains(rank.Message, "[B,");
        var integer = Assert.ThrowsExactly<ArgumentException>(() => model.Moments(zeros(1, config.InChannels, f, f, dtype: ScalarType.Int64)));
        StringAssert.Contains(integer.Message, "floating-point");

        var latent = Assert.ThrowsExactly<ArgumentException>(() => model.Decode(zeros(1, config.EmbedDim + 1, 2, 2)));
        StringAssert.Contains(latent.Message, $"[B, {config.EmbedDim}, h, w]");
        var moments = Assert.ThrowsExactly<ArgumentException>(() => model.SampleLatent(zeros(1, config.EmbedDim, 2, 2), zeros(1, config.EmbedDim, 2, 2)));
        StringAssert.Contains(moments.Message, "moments");
        var noise = Assert.ThrowsExactly<ArgumentException>(() => model.SampleLatent(zeros(1, 2 * config.EmbedDim, 2, 2), zeros(1, config.EmbedDim, 3, 2)));
        StringAssert.Contains(noise.Message, "noise");
    }
}
