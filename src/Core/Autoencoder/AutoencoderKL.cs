// The KL-regularised autoencoder of latent diffusion: CompVis latent-diffusion ldm/models/autoencoder.py `AutoencoderKL`
// (encoder, decoder, quant_conv, post_quant_conv; the training loss is not part of it) with the latent handling of
// U-ViT's libs/autoencoder.py `FrozenAutoencoderKL` (encode_moments, sample, encode, decode with scale_factor).
// State-dict keys equal the official ones (reference.md section 5), so autoencoder_kl.pth loads by name.
// Deviations: fused attention by default (the official bmm path is available); micro-batching; clear errors on bad input.
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

using UViT.MLNet.Core.Runtime;

namespace UViT.MLNet.Core.Autoencoder;

/// <summary>
/// Stable Diffusion's KL autoencoder: images in [-1, 1] to scaled latents and back.
/// Encoding yields moments (mean, log-variance) from which a latent is sampled; decoding inverts the scale first.
/// For inference call the methods under <c>torch.no_grad()</c> and after <c>eval()</c>.
/// </summary>
public sealed class AutoencoderKL : Module
{
    // ---------------------------------------------------------------- parameters (registration order = official key order)
    private readonly Encoder encoder;
    private readonly Decoder decoder;
    private readonly Conv2d quant_conv;
    private readonly Conv2d post_quant_conv;

    /// <summary>The architecture and latent scale this autoencoder was built with.</summary>
    public AutoencoderKLConfig Config { get; }

    /// <summary>Images per forward pass inside <see cref="Moments"/>, <see cref="Encode(Tensor, bool, Generator?)"/> and
    /// <see cref="Decode"/>; larger batches are processed in slices of this size so peak memory stays bounded.</summary>
    public int MicroBatchSize
    {
        get;
        set
        {
            AutoencoderInputChecks.CheckMicroBatch(value, nameof(MicroBatchSize));
            field = value;
        }
    } = 8;

    /// <summary>Builds a KL autoencoder with PyTorch's default initialisation (load weights before use).</summary>
    /// <param name="config">Architecture (see <see cref="AutoencoderKLConfig.StableDiffusionKLF8"/>).</param>
    /// <param name="device">Where the parameters live (default CPU; META builds shapes without memory).</param>
    /// <param name="dtype">Parameter dtype (default float32).</param>
    public AutoencoderKL(AutoencoderKLConfig config, Device? device = null, ScalarType? dtype = null) : base(nameof(AutoencoderKL))
    {
        Runtime.TorchRuntime.EnsureLoaded(device?.type ?? DeviceType.CPU);
        Config = config.Validate();
        encoder = new Encoder(config, device, dtype);
        decoder = new Decoder(config, device, dtype);
        quant_conv = ModuleConstruction.Build(() => Conv2d(2 * config.ZChannels, 2 * config.EmbedDim, kernel_size: 1, device: device, dtype: dtype));
        post_quant_conv = ModuleConstruction.Build(() => Conv2d(config.EmbedDim, config.ZChannels, kernel_size: 1, device: device, dtype: dtype));
        register_module(nameof(encoder), encoder);
        register_module(nameof(decoder), decoder);
        register_module(nameof(quant_conv), quant_conv);
        register_module(nameof(post_quant_conv), post_quant_conv);
    }

    /// <summary>Switches every attention layer between <c>scaled_dot_product_attention</c> (default) and the official bmm/softmax path.</summary>
    public bool UseFusedAttention
    {
        get => encoder.Attentions.First().UseFusedAttention;
        set
        {
            foreach (var attention in encoder.Attentions.Concat(decoder.Attentions)) attention.UseFusedAttention = value;
        }
    }

    /// <summary>
    /// Loads weights from a safetensors or torch.save file in CompVis, latent-diffusion (<c>first_stage_model.</c>) or
    /// diffusers layout (see <see cref="AutoencoderCheckpoint"/>), strictly; mismatches name the offending keys.
    /// </summary>
    public AutoencoderCheckpointReport LoadCheckpoint(string path) => AutoencoderCheckpoint.LoadFile(this, path);

    /// <summary>Number of parameters (elements of every state-dict tensor).</summary>
    public long ParameterCount => parameters().Sum(t => t.numel());

    // ---------------------------------------------------------------- encoding

    /// <summary>The posterior's moments, <c>quant_conv(encoder(x))</c> (official <c>encode_moments</c>).</summary>
    /// <param name="x">[B, InChannels, H, W] images in [-1, 1]; H, W multiples of <see cref="AutoencoderKLConfig.DownsampleFactor"/>.</param>
    /// <returns>[B, 2*EmbedDim, H/f, W/f]: mean channels first, then log-variance.</returns>
    public Tensor Moments(Tensor x)
    {
        AutoencoderInputChecks.CheckImages(Config, x, nameof(x));
        return MicroBatching.Map(x, MicroBatchSize, slice =>
        {
            using var scope = NewDisposeScope();
            var h = encoder.forward(slice.to(quant_conv.weight!.dtype).to(quant_conv.weight!.device));  // [b, 2*z_channels, h, w]
            return quant_conv.forward(h).MoveToOuterDisposeScope();        // [b, 2*EmbedDim, h, w]
        });
    }

    /// <summary>Splits moments into mean and log-variance (official <c>torch.chunk(moments, 2, dim=1)</c>); views, not copies.</summary>
    /// <param name="moments">[B, 2E, h, w]</param>
    /// <returns>([B, E, h, w] mean, [B, E, h, w] log-variance, unclamped)</returns>
    public static (Tensor Mean, Tensor LogVar) SplitMoments(Tensor moments)
    {
        var halves = moments.chunk(2, dim: 1);  // 2 x [B, E, h, w]
        return (halves[0], halves[1]);
    }

    /// <summary>
    /// A scaled latent sample, <c>scale * (mean + exp(0.5 * clamp(logvar, -30, 20)) * noise)</c> (official <c>sample</c>,
    /// with the noise passed in so that results are reproducible and comparable).
    /// </summary>
    /// <param name="moments">[B, 2E, h, w] from <see cref="Moments"/> (or stored moments, as the official training does).</param>
    /// <param name="noise">[B, E, h, w] standard normal noise.</param>
    /// <returns>[B, E, h, w]</returns>
    public Tensor SampleLatent(Tensor moments, Tensor noise)
    {
        AutoencoderInputChecks.CheckMoments(Config, moments, nameof(moments));
        return SampleLatent(moments, noise, Config.ScaleFactor);
    }

    /// <summary>
    /// <see cref="SampleLatent(Tensor, Tensor)"/> without an autoencoder instance, for stored moments (the moments cache)
    /// whose scale factor is known.
    /// </summary>
    /// <param name="moments">[B, 2E, h, w]</param>
    /// <param name="noise">[B, E, h, w] standard normal noise.</param>
    /// <param name="scaleFactor">The autoencoder's latent scale.</param>
    /// <returns>[B, E, h, w]</returns>
    public static Tensor SampleLatent(Tensor moments, Tensor noise, double scaleFactor)
    {
        AutoencoderInputChecks.CheckNoise(moments, noise, nameof(noise));
        using var scope = NewDisposeScope();
        var (mean, logVar) = SplitMoments(moments);                     // [B, E, h, w] each
        var std = logVar.Clamped(-30.0, 20.0).Times(0.5).exp();          // [B, E, h, w]
        var z = mean.Plus(std * noise.to(mean.dtype).to(mean.device)).Times(scaleFactor);  // [B, E, h, w]
        return z.MoveToOuterDisposeScope();
    }

    /// <summary>The scaled posterior mean, <c>scale * mean</c>: a deterministic latent (no sampling noise).</summary>
    /// <param name="moments">[B, 2E, h, w]</param>
    /// <returns>[B, E, h, w]</returns>
    public Tensor MeanLatent(Tensor moments)
    {
        AutoencoderInputChecks.CheckMoments(Config, moments, nameof(moments));
        var (mean, logVar) = SplitMoments(moments);
        logVar.Dispose();
        using (mean) return mean.Times(Config.ScaleFactor);            // [B, E, h, w]
    }

    /// <summary>
    /// Images to scaled latents (official <c>encode</c>): the moments, then a sample drawn with <paramref name="generator"/>
    /// (torch's global generator when null) or, with <paramref name="sample"/> false, the scaled mean.
    /// </summary>
    /// <param name="x">[B, InChannels, H, W] images in [-1, 1].</param>
    /// <param name="sample">Draw from the posterior (true, as the official code) or take its mean (false).</param>
    /// <param name="generator">Seeded generator for the noise, for reproducible latents (drawn on the CPU, see SeededDraws).</param>
    /// <returns>[B, E, H/f, W/f]</returns>
    public Tensor Encode(Tensor x, bool sample = true, Generator? generator = null)
    {
        using var scope = NewDisposeScope();
        var moments = Moments(x);                                       // [B, 2E, h, w]
        if (!sample) return MeanLatent(moments).MoveToOuterDisposeScope();
        long[] shape = [moments.shape[0], Config.EmbedDim, moments.shape[2], moments.shape[3]];
        var noise = SeededDraws.Randn(shape, moments.dtype, moments.device, generator); // [B, E, h, w]
        return SampleLatent(moments, noise).MoveToOuterDisposeScope();
    }

    /// <summary>Images to scaled latents with the given noise: <c>SampleLatent(Moments(x), noise)</c>.</summary>
    /// <param name="x">[B, InChannels, H, W] images in [-1, 1].</param>
    /// <param name="noise">[B, E, H/f, W/f] standard normal noise.</param>
    /// <returns>[B, E, H/f, W/f]</returns>
    public Tensor Encode(Tensor x, Tensor noise)
    {
        using var moments = Moments(x);                                 // [B, 2E, h, w]
        return SampleLatent(moments, noise);                            // [B, E, h, w]
    }

    // ---------------------------------------------------------------- decoding

    /// <summary>
    /// Scaled latents to images: <c>decoder(post_quant_conv(z * (1 / scale)))</c> (official <c>decode</c>; it multiplies by
    /// the reciprocal, which we reproduce). Runs in slices of <see cref="MicroBatchSize"/> latents.
    /// </summary>
    /// <param name="z">[B, EmbedDim, h, w] scaled latents.</param>
    /// <returns>[B, OutChannels, h*f, w*f] images, nominally in [-1, 1] (not clamped).</returns>
    public Tensor Decode(Tensor z)
    {
        AutoencoderInputChecks.CheckLatents(Config, z, nameof(z));
        double inverseScale = 1.0 / Config.ScaleFactor;
        return MicroBatching.Map(z, MicroBatchSize, slice =>
        {
            using var scope = NewDisposeScope();
            var unscaled = slice.to(post_quant_conv.weight!.dtype).to(post_quant_conv.weight!.device).Times(inverseScale); // [b, E, h, w]
            var h = post_quant_conv.forward(unscaled);                              // [b, z_channels, h, w]
            return decoder.forward(h).MoveToOuterDisposeScope();                    // [b, OutChannels, h*f, w*f]
        });
    }

    /// <summary>Disposes the weights and, at once, the native module of every layer (<see cref="NativeModuleRelease"/>).</summary>
    protected override void Dispose(bool disposing)
    {
        if (disposing) NativeModuleRelease.Dispose(this, () => base.Dispose(true));
        else base.Dispose(false);
    }
}
