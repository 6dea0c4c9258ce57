// A small CNN MNIST classifier that judges generated digits: which digit an image shows, how sure it is, and 128-d features
// whose Frechet distance compares generated with real digits (FID's method with an MNIST network instead of Inception).
// Architecture (ours, in the spirit of PyTorch's examples/mnist): pixels / 255 normalised with MNIST's mean 0.1307 and std
// 0.3081, then three 3x3 convs without bias (1->32, 32->64, 64->64, padding 1), each + BatchNorm + ReLU + 2x2 max-pool
// (28 -> 14 -> 7 -> 3), dropout 0.25, linear 576->128 + ReLU (the features), dropout 0.25, linear 128->10. About 131k
// parameters (~515 KB as float32 safetensors, BatchNorm statistics included).
// Trained by DigitJudgeTrainer on the split of DigitJudgeSplit.
using TorchSharp;
using TorchSharp.Modules;
using UViT.MLNet.Core.Checkpoints;
using UViT.MLNet.Core.Runtime;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace UViT.MLNet.Core.Evaluation;

/// <summary>
/// The digit judge: 28x28 grey images with pixels 0..255 (MNIST's byte scale; values outside are clamped, since generated
/// images can overshoot) to a predicted digit, the ten class probabilities and 128-d features. Built in eval mode.
/// </summary>
public sealed class DigitJudge : Module<Tensor, Tensor>
{
    /// <summary>Image side the judge reads.</summary>
    public const int ImageSize = 28;
    /// <summary>Digit classes 0..9.</summary>
    public const int ClassCount = 10;
    /// <summary>Width of the features (the penultimate layer, after its ReLU).</summary>
    public const int FeatureDim = 128;
    /// <summary>Images judged per forward pass by <see cref="Judge(IReadOnlyList{float[]})"/>.</summary>
    private const int BatchSize = 500;

    /// <summary>Mean and standard deviation of MNIST's training pixels on the 0..1 scale (the usual normalisation).</summary>
    private const double PixelMean = 0.1307, PixelStd = 0.3081;

    /// <summary>What the judge reads, as recorded in its file's metadata.</summary>
    public const string InputDescription = "28x28 grey, pixels 0..255 (clamped to 0..255), divided by 255, normalised with mean 0.1307 and std 0.3081";

    // Field names are the state-dict keys (conv1.weight, bn1.weight/bias/running_mean/running_var/num_batches_tracked, ..., fc1.*, fc2.*).
    private readonly Conv2d conv1;
    private readonly Conv2d conv2;
    private readonly Conv2d conv3;
    private readonly BatchNorm2d bn1;
    private readonly BatchNorm2d bn2;
    private readonly BatchNorm2d bn3;
    private readonly Dropout dropout;
    private readonly Linear fc1;
    private readonly Linear fc2;

    /// <summary>Builds the network with torch's default (global-generator) initialisation; load trained weights with <see cref="Load"/>.</summary>
    public DigitJudge(Device? device = null) : base(nameof(DigitJudge))
    {
        TorchRuntime.EnsureLoaded(device?.type ?? DeviceType.CPU);
        conv1 = ModuleConstruction.Build(() => Conv2d(1, 32, 3, padding: 1, bias: false, device: device));
        conv2 = ModuleConstruction.Build(() => Conv2d(32, 64, 3, padding: 1, bias: false, device: device));
        conv3 = ModuleConstruction.Build(() => Conv2d(64, 64, 3, padding: 1, bias: false, device: device));
        bn1 = BatchNorm2d(32, device: device);
        bn2 = BatchNorm2d(64, device: device);
        bn3 = BatchNorm2d(64, device: device);
        dropout = Dropout(0.25);
        fc1 = ModuleConstruction.Build(() => Linear(64 * 3 * 3, FeatureDim, device: device));
        fc2 = ModuleConstruction.Build(() => Linear(FeatureDim, ClassCount, device: device));
        RegisterComponents();
        eval();
    }

    /// <summary>Builds the judge and loads <paramref name="path"/> strictly (every key and shape must match; the file's tensors are disposed).</summary>
    /// <exception cref="CheckpointMismatchException">Keys or shapes differ from the judge's; every offending key is named.</exception>
    public static DigitJudge Load(string path, Device? device = null)
    {
        var judge = new DigitJudge(device);
        try
        {
            StateDictLoader.LoadFile(judge, path, strict: true);
            judge.eval();
            return judge;
        }
        catch
        {
            judge.Dispose();
            throw;
        }
    }

    /// <summary>The class logits of <paramref name="images"/> (training uses these with cross-entropy).</summary>
    /// <param name="images">[B, 1, 28, 28] float, pixels 0..255 (clamped).</param>
    /// <returns>[B, 10]</returns>
    public override Tensor forward(Tensor images) => fc2.forward(dropout.forward(Features(images)));

    /// <summary>The 128-d features of <paramref name="images"/> (after fc1's ReLU, before the last dropout).</summary>
    /// <param name="images">[B, 1, 28, 28] float, pixels 0..255 (clamped).</param>
    /// <returns>[B, 128]</returns>
    public Tensor Features(Tensor images)
    {
        if (images.dim() != 4 || images.shape[1] != 1 || images.shape[2] != ImageSize || images.shape[3] != ImageSize || !images.is_floating_point())
            throw new ArgumentException($"The digit judge expects float images [B, 1, {ImageSize}, {ImageSize}] with pixels 0..255; got {images.dtype} [{string.Join(", ", images.shape)}].", nameof(images));
        using var scope = NewDisposeScope();
        var x = images.Clamped(0, 255).DividedBy(255).Minus(PixelMean).DividedBy(PixelStd); // [B, 1, 28, 28], pixels 0..1 normalised
        x = functional.max_pool2d(functional.relu(bn1.forward(conv1.forward(x))), 2);   // [B, 32, 14, 14]
        x = functional.max_pool2d(functional.relu(bn2.forward(conv2.forward(x))), 2);   // [B, 64, 7, 7]
        x = functional.max_pool2d(functional.relu(bn3.forward(conv3.forward(x))), 2);   // [B, 64, 3, 3]
        x = dropout.forward(x).flatten(1);                                    // [B, 576]
        return functional.relu(fc1.forward(x)).MoveToOuterDisposeScope();     // [B, 128]
    }

    /// <summary>Judges <paramref name="images"/> without gradients, in batches, in eval mode.</summary>
    /// <param name="images">Each a 28x28 grey image, row-major, pixels 0..255 (values outside are clamped).</param>
    public DigitJudgment Judge(IReadOnlyList<float[]> images)
    {
        ArgumentNullException.ThrowIfNull(images);
        if (images.Count == 0) throw new ArgumentException("There are no images to judge.", nameof(images));
        if (images.FirstOrDefault(i => i.Length != ImageSize * ImageSize) is { } wrong)
            throw new ArgumentException($"The digit judge reads {ImageSize}x{ImageSize} grey images ({ImageSize * ImageSize} pixels); got an image of {wrong.Length} values.", nameof(images));
        eval();
        var device = conv1.weight!.device;
        var predicted = new int[images.Count];
        var probabilities = new float[images.Count * ClassCount];
        var features = new float[images.Count * FeatureDim];
        using var noGrad = no_grad();
        for (int start = 0; start < images.Count; start += BatchSize)
        {
            using var scope = NewDisposeScope();
            int count = Math.Min(BatchSize, images.Count - start);
            var pixels = images.Skip(start).Take(count).SelectMany(i => i).ToArray();
            var batch = tensor(pixels, [count, 1, ImageSize, ImageSize], device: device);   // [b, 1, 28, 28]
            var feature = Features(batch);                                                  // [b, 128]
            var probability = functional.softmax(fc2.forward(feature), 1);                  // [b, 10]
            var argmax = probability.argmax(1).to(ScalarType.Int32).cpu();                  // [b]
            argmax.data<int>().CopyTo(predicted, start);
            probability.cpu().data<float>().CopyTo(probabilities, start * ClassCount);
            feature.cpu().data<float>().CopyTo(features, start * FeatureDim);
        }
        return new DigitJudgment(predicted, probabilities, features);
    }

    /// <summary>Disposes the weights and, at once, the native module of every layer (<see cref="NativeModuleRelease"/>).</summary>
    protected override void Dispose(bool disposing)
    {
        if (disposing) NativeModuleRelease.Dispose(this, () => base.Dispose(true));
        else base.Dispose(false);
    }
}
