// Recognising an autoencoder checkpoint from its tensor shapes (what `uvit inspect` reports).
using UViT.MLNet.Core.Autoencoder;
using UViT.MLNet.Tests.Support;

namespace UViT.MLNet.Tests.Latents;

[TestClass]
public sealed class LatentCheckpointInferenceTests
{
    [TestMethod]
    public void FixtureAutoencoderConfigIsReadOffItsShapes()
    {
        var state = Fixtures.Tensors(Autoencoder.AutoencoderFixture.Files().WeightsFile);
        try
        {
            var inferred = AutoencoderConfigInference.Infer(state);
            Assert.IsNotNull(inferred);
            Assert.AreEqual(LatentFixture.Config with { Resolution = inferred.Config.Resolution, ScaleFactor = inferred.Config.ScaleFactor }, inferred.Config);
            Assert.AreEqual(AutoencoderCheckpointLayout.CompVis, inferred.Layout);
            Assert.IsFalse(inferred.IsStableDiffusionKLF8);
            Assert.AreEqual(state.Values.Sum(t => t.numel()), inferred.ParameterCount);
        }
        finally
        {
            foreach (var t in state.Values) t.Dispose();
        }
    }

    [TestMethod]
    public void StableDiffusionKLF8IsRecognised()
    {
        using var model = new AutoencoderKL(AutoencoderKLConfig.StableDiffusionKLF8, device: TorchSharp.torch.META);
        var inferred = AutoencoderConfigInference.Infer(model.state_dict());
        Assert.IsNotNull(inferred);
        Assert.IsTrue(inferred.IsStableDiffusionKLF8);
        Assert.AreEqual(83_653_863L, inferred.ParameterCount);
    }

    [TestMethod]
    public void AUViTCheckpointIsNotAnAutoencoder()
    {
        var state = Fixtures.Tensors("uvit_cls.safetensors");
        try { Assert.IsNull(AutoencoderConfigInference.Infer(state)); }
        finally { foreach (var t in state.Values) t.Dispose(); }
    }
}
