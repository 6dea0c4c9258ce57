// Input validation for AutoencoderKL: a malformed call fails with a message naming the argument, the shape found and
// the shape expected, instead of a libtorch shape error (or a silently cropped image) deep inside the network.
using static TorchSharp.torch;

namespace UViT.MLNet.Core.Autoencoder;

internal static class AutoencoderInputChecks
{
    /// <summary>Images: [B, InChannels, H, W], floating point, H and W positive multiples of the downsample factor.</summary>
    public static void CheckImages(AutoencoderKLConfig config, Tensor x, string name)
    {
        int c = config.InChannels, f = config.DownsampleFactor;
        if (x.dim() != 4 || x.shape[1] != c)
            throw new ArgumentException($"{name} must be images [B, {c}, H, W] in [-1, 1] for this autoencoder; got {Shape(x)}.", name);
        if (!x.is_floating_point())
            throw new ArgumentException($"{name} must be a floating-point tensor; got {x.dtype}.", name);
        if (x.shape[2] <= 0 || x.shape[3] <= 0 || x.shape[2] % f != 0 || x.shape[3] % f != 0)
            throw new ArgumentException(
                $"{name} height and width must be positive multiples of {f} (2^(levels-1) for {config.Levels} levels); got {x.shape[2]}x{x.shape[3]}. " +
                "Resize or crop the images first: the down-sampling would otherwise drop rows and columns.", name);
    }

    /// <summary>Moments: [B, 2*EmbedDim, h, w], floating point.</summary>
    public static void CheckMoments(AutoencoderKLConfig config, Tensor moments, string name)
    {
        int c = 2 * config.EmbedDim;
        if (moments.dim() != 4 || moments.shape[1] != c || !moments.is_floating_point())
            throw new ArgumentException($"{name} must be floating-point moments [B, {c}, h, w] (mean and log-variance); got {Shape(moments)} {moments.dtype}.", name);
    }

    /// <summary>Latents: [B, EmbedDim, h, w], floating point.</summary>
    public static void CheckLatents(AutoencoderKLConfig config, Tensor z, string name)
    {
        int c = config.EmbedDim;
        if (z.dim() != 4 || z.shape[1] != c || z.shape[2] <= 0 || z.shape[3] <= 0)
            throw new ArgumentException($"{name} must be latents [B, {c}, h, w] for this autoencoder; got {Shape(z)}.", name);
        if (!z.is_floating_point())
            throw new ArgumentException($"{name} must be a floating-point tensor; got {z.dtype}.", name);
    }

    /// <summary>Noise for sampling: the shape of the mean, [B, EmbedDim, h, w].</summary>
    public static void CheckNoise(Tensor moments, Tensor noise, string name)
    {
        long[] expected = [moments.shape[0], moments.shape[1] / 2, moments.shape[2], moments.shape[3]];
        if (!noise.shape.SequenceEqual(expected))
            throw new ArgumentException($"{name} must have the shape of the latent mean [{string.Join(", ", expected)}]; got {Shape(noise)}.", name);
    }

    /// <summary>A micro-batch size must be positive.</summary>
    public static void CheckMicroBatch(int microBatch, string name)
    {
        if (microBatch <= 0) throw new ArgumentOutOfRangeException(name, microBatch, "The micro-batch size must be positive.");
    }

    private static string Shape(Tensor t) => "[" + string.Join(", ", t.shape) + "]";
}
