// Input validation for UViT.forward: a malformed call fails with a message naming the argument, the shape found
// and the shape expected, instead of a libtorch shape error deep inside the network.
using TorchSharp;
using static TorchSharp.torch;

namespace UViT.MLNet.Core.Networks;

internal static class UViTInputChecks
{
    public static void Check(UViTConfig config, Tensor x, Tensor timesteps, Tensor? labels, Tensor? context)
    {
        int s = config.ImageSize, c = config.InChannels;
        if (x.dim() != 4 || x.shape[1] != c || x.shape[2] != s || x.shape[3] != s)
            throw new ArgumentException($"x must be [B, {c}, {s}, {s}] for this U-ViT; got {Shape(x)}.", nameof(x));
        if (!x.is_floating_point())
            throw new ArgumentException($"x must be a floating-point tensor; got {x.dtype}.", nameof(x));
        long b = x.shape[0];
        if (timesteps.dim() != 1 || timesteps.shape[0] != b)
            throw new ArgumentException($"timesteps must be [B] = [{b}]; got {Shape(timesteps)}.", nameof(timesteps));

        switch (config.Conditioning)
        {
            case UViTConditioning.ClassLabel:
                if (labels is null)
                    throw new ArgumentNullException(nameof(labels), $"This U-ViT is class-conditional ({config.NumClasses} classes): pass labels [B].");
                if (labels.dim() != 1 || labels.shape[0] != b)
                    throw new ArgumentException($"labels must be [B] = [{b}]; got {Shape(labels)}.", nameof(labels));
                if (labels.dtype is not (ScalarType.Int64 or ScalarType.Int32))
                    throw new ArgumentException($"labels must be int64 (or int32) class indices; got {labels.dtype}.", nameof(labels));
                using (var zero = 0.ToScalar())
                using (var classCount = config.NumClasses.ToScalar())
                using (var outOfRange = labels.lt(zero).logical_or_(labels.ge(classCount)))
                {
                    if (outOfRange.any().item<bool>())
                    {
                        long min = labels.min().item<long>(), max = labels.max().item<long>();
                        throw new ArgumentOutOfRangeException(nameof(labels),
                            $"labels must lie in [0, {config.NumClasses - 1}] for this U-ViT; got values from {min} to {max}.");
                    }
                }
                if (context is not null) throw new ArgumentException("This U-ViT is class-conditional; it takes no text context.", nameof(context));
                break;
            case UViTConditioning.TextContext:
                if (context is null)
                    throw new ArgumentNullException(nameof(context), $"This U-ViT is text-conditioned: pass context [B, {config.NumClipTokens}, {config.ClipDim}].");
                if (context.dim() != 3 || context.shape[0] != b || context.shape[1] != config.NumClipTokens || context.shape[2] != config.ClipDim)
                    throw new ArgumentException($"context must be [{b}, {config.NumClipTokens}, {config.ClipDim}]; got {Shape(context)}.", nameof(context));
                if (labels is not null) throw new ArgumentException("This U-ViT is text-conditioned; it takes no class labels.", nameof(labels));
                break;
            default:
                if (labels is not null) throw new ArgumentException("This U-ViT is unconditional; it takes no class labels.", nameof(labels));
                if (context is not null) throw new ArgumentException("This U-ViT is unconditional; it takes no text context.", nameof(context));
                break;
        }
    }

    private static string Shape(Tensor t) => "[" + string.Join(", ", t.shape) + "]";
}
