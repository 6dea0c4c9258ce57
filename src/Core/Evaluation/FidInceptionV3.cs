// The Inception v3 network that FID is measured with: pytorch-fid's port of the 2015 TensorFlow graph.
// Provenance: pytorch-fid inception.py (`InceptionV3` with `use_fid_inception=True`, `fid_inception_v3`) - U-ViT's
// tools/inception.py is a copy - over torchvision models/inception.py `Inception3` (num_classes=1008, no aux logits).
// State-dict keys equal those of `pt_inception-2015-12-05-6726825d.pth`, so that file (or a safetensors copy) loads strictly.
// Input handling is pytorch-fid's defaults: bilinear resize to 299x299 (align_corners=False), then [0,1] -> [-1,1].
// Deviations: none in the math. No Inception-v3 blocks other than pool3 are exposed (pytorch-fid's 64/192/768-d options).
using TorchSharp;
using TorchSharp.Modules;
using UViT.MLNet.Core.Checkpoints;
using UViT.MLNet.Core.Runtime;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace UViT.MLNet.Core.Evaluation;

/// <summary>
/// FID Inception v3: images in [0,1] to 2048-d pool3 features (for FID) and the 1008-way <c>fc</c> logits (for Inception Score).
/// Always in eval mode (BatchNorm uses its running statistics) and without gradients.
/// </summary>
public sealed class FidInceptionV3 : Module<Tensor, Tensor>
{
    /// <summary>Width of the pool3 features FID uses.</summary>
    public const int FeatureDim = 2048;
    /// <summary>Classes of the 2015 graph's softmax (1000 ImageNet classes + 8 unused).</summary>
    public const int LogitCount = 1008;
    /// <summary>The network's input resolution; other sizes are resized to it.</summary>
    public const int InputSize = 299;

    // ---------------------------------------------------------------- modules (registration order = checkpoint key order)
    private readonly BasicConv2d Conv2d_1a_3x3;
    private readonly BasicConv2d Conv2d_2a_3x3;
    private readonly BasicConv2d Conv2d_2b_3x3;
    private readonly BasicConv2d Conv2d_3b_1x1;
    private readonly BasicConv2d Conv2d_4a_3x3;
    private readonly FidInceptionA Mixed_5b;
    private readonly FidInceptionA Mixed_5c;
    private readonly FidInceptionA Mixed_5d;
    private readonly InceptionB Mixed_6a;
    private readonly FidInceptionC Mixed_6b;
    private readonly FidInceptionC Mixed_6c;
    private readonly FidInceptionC Mixed_6d;
    private readonly FidInceptionC Mixed_6e;
    private readonly InceptionD Mixed_7a;
    private readonly FidInceptionE Mixed_7b;
    private readonly FidInceptionE Mixed_7c;
    private readonly Linear fc;

    /// <summary>Builds the network with untrained weights; load the FID weights with <see cref="Load"/> or <see cref="LoadWeights"/>.</summary>
    public FidInceptionV3(Device? device = null) : base("FidInceptionV3")
    {
        TorchRuntime.EnsureLoaded(device?.type ?? DeviceType.CPU);
        Conv2d_1a_3x3 = new BasicConv2d(3, 32, 3, stride: 2, device: device);
        Conv2d_2a_3x3 = new BasicConv2d(32, 32, 3, device: device);
        Conv2d_2b_3x3 = new BasicConv2d(32, 64, 3, padding: 1, device: device);
        Conv2d_3b_1x1 = new BasicConv2d(64, 80, 1, device: device);
        Conv2d_4a_3x3 = new BasicConv2d(80, 192, 3, device: device);
        Mixed_5b = new FidInceptionA(192, poolFeatures: 32, device);
        Mixed_5c = new FidInceptionA(256, poolFeatures: 64, device);
        Mixed_5d = new FidInceptionA(288, poolFeatures: 64, device);
        Mixed_6a = new InceptionB(288, device);
        Mixed_6b = new FidInceptionC(768, channels7x7: 128, device);
        Mixed_6c = new FidInceptionC(768, channels7x7: 160, device);
        Mixed_6d = new FidInceptionC(768, channels7x7: 160, device);
        Mixed_6e = new FidInceptionC(768, channels7x7: 192, device);
        Mixed_7a = new InceptionD(768, device);
        Mixed_7b = new FidInceptionE(1280, FidInceptionEPool.Average, device);
        Mixed_7c = new FidInceptionE(2048, FidInceptionEPool.Max, device);
        fc = Linear(FeatureDim, LogitCount, device: device);

        register_module(nameof(Conv2d_1a_3x3), Conv2d_1a_3x3);
        register_module(nameof(Conv2d_2a_3x3), Conv2d_2a_3x3);
        register_module(nameof(Conv2d_2b_3x3), Conv2d_2b_3x3);
        register_module(nameof(Conv2d_3b_1x1), Conv2d_3b_1x1);
        register_module(nameof(Conv2d_4a_3x3), Conv2d_4a_3x3);
        register_module(nameof(Mixed_5b), Mixed_5b);
        register_module(nameof(Mixed_5c), Mixed_5c);
        register_module(nameof(Mixed_5d), Mixed_5d);
        register_module(nameof(Mixed_6a), Mixed_6a);
        register_module(nameof(Mixed_6b), Mixed_6b);
        register_module(nameof(Mixed_6c), Mixed_6c);
        register_module(nameof(Mixed_6d), Mixed_6d);
        register_module(nameof(Mixed_6e), Mixed_6e);
        register_module(nameof(Mixed_7a), Mixed_7a);
        register_module(nameof(Mixed_7b), Mixed_7b);
        register_module(nameof(Mixed_7c), Mixed_7c);
        register_module(nameof(fc), fc);

        foreach (var p in parameters()) p.requires_grad = false;
        eval();
    }

    /// <summary>
    /// Builds the network and loads <paramref name="path"/> strictly: the official <c>pt_inception-2015-12-05-6726825d.pth</c>
    /// (torch.save, legacy or zip) or a safetensors file with the same keys. Half-precision files are converted to float32.
    /// </summary>
    /// <exception cref="CheckpointMismatchException">Keys or shapes differ from the FID network's; every offending key is named.</exception>
    public static FidInceptionV3 Load(string path, Device? device = null)
    {
        var network = new FidInceptionV3(device);
        try
        {
            network.LoadWeights(path);
            return network;
        }
        catch
        {
            network.Dispose();
            throw;
        }
    }

    /// <summary>Loads FID weights into this network strictly (dtype converted to float32) and stays in eval mode.</summary>
    public void LoadWeights(string path)
    {
        StateDictLoader.LoadFile(this, path, strict: true);
        eval();
    }

    /// <summary>The pool3 features of images in [0,1], as pytorch-fid computes them (resize, rescale, blocks, global average).</summary>
    /// <param name="images">[B, 3, H, W] float32, values in [0, 1]; any H, W (resized bilinearly to 299x299).</param>
    /// <returns>[B, 2048]</returns>
    public override Tensor forward(Tensor images)
    {
        CheckImages(images);
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var x = functional.interpolate(images, size: [InputSize, InputSize], mode: InterpolationMode.Bilinear, align_corners: false); // [B, 3, 299, 299]
        x = x.Times(2).Minus(1);                             // [B, 3, 299, 299] in [-1, 1]
        // block 0: stem
        x = Conv2d_1a_3x3.forward(x);                        // [B, 32, 149, 149]
        x = Conv2d_2a_3x3.forward(x);                        // [B, 32, 147, 147]
        x = Conv2d_2b_3x3.forward(x);                        // [B, 64, 147, 147]
        x = functional.max_pool2d(x, kernel_size: 3, stride: 2); // [B, 64, 73, 73]
        // block 1
        x = Conv2d_3b_1x1.forward(x);                        // [B, 80, 73, 73]
        x = Conv2d_4a_3x3.forward(x);                        // [B, 192, 71, 71]
        x = functional.max_pool2d(x, kernel_size: 3, stride: 2); // [B, 192, 35, 35]
        // block 2
        x = Mixed_5b.forward(x);                             // [B, 256, 35, 35]
        x = Mixed_5c.forward(x);                             // [B, 288, 35, 35]
        x = Mixed_5d.forward(x);                             // [B, 288, 35, 35]
        x = Mixed_6a.forward(x);                             // [B, 768, 17, 17]
        x = Mixed_6b.forward(x);                             // [B, 768, 17, 17]
        x = Mixed_6c.forward(x);                             // [B, 768, 17, 17]
        x = Mixed_6d.forward(x);                             // [B, 768, 17, 17]
        x = Mixed_6e.forward(x);                             // [B, 768, 17, 17]
        // block 3
        x = Mixed_7a.forward(x);                             // [B, 1280, 8, 8]
        x = Mixed_7b.forward(x);                             // [B, 2048, 8, 8]
        x = Mixed_7c.forward(x);                             // [B, 2048, 8, 8]
        x = functional.adaptive_avg_pool2d(x, [1, 1]);       // [B, 2048, 1, 1]
        return x.flatten(1).MoveToOuterDisposeScope();       // [B, 2048]
    }

    /// <summary>
    /// The 1008-way logits of the 2015 graph, <c>fc(pool3)</c> with its bias - what torchvision's <c>Inception3.forward</c>
    /// returns in eval mode (dropout is the identity).
    /// </summary>
    /// <param name="features">[B, 2048] pool3 features from <see cref="Module{T,TResult}.forward"/>.</param>
    /// <returns>[B, 1008]</returns>
    public Tensor Logits(Tensor features)
    {
        CheckFeatures(features);
        using var noGrad = no_grad();
        return fc.forward(features);                         // [B, 1008]
    }

    /// <summary>
    /// The logits without the <c>fc</c> bias, <c>pool3 W^T</c>: what the original Inception Score code (improved-GAN's
    /// inception_score.py reads the graph's <c>softmax/logits/MatMul</c>, before the bias add) and torch-fidelity
    /// (<c>logits_unbiased</c>) compute the score from. Use these with <see cref="InceptionScore"/> to match published scores.
    /// </summary>
    /// <param name="features">[B, 2048] pool3 features.</param>
    /// <returns>[B, 1008]</returns>
    public Tensor UnbiasedLogits(Tensor features)
    {
        CheckFeatures(features);
        using var noGrad = no_grad();
        return functional.linear(features, fc.weight!);      // [B, 1008]
    }

    private static void CheckImages(Tensor images)
    {
        if (images.dim() != 4 || images.shape[1] != 3)
            throw new ArgumentException($"FID Inception expects images [B, 3, H, W] with values in [0, 1]; got [{string.Join(", ", images.shape)}].", nameof(images));
        if (!images.is_floating_point())
            throw new ArgumentException($"FID Inception expects floating-point images in [0, 1]; got {images.dtype}. Divide uint8 pixels by 255 first.", nameof(images));
    }

    private static void CheckFeatures(Tensor features)
    {
        if (features.dim() != 2 || features.shape[1] != FeatureDim)
            throw new ArgumentException($"Expected pool3 features [B, {FeatureDim}]; got [{string.Join(", ", features.shape)}].", nameof(features));
    }

    /// <summary>Disposes the weights and, at once, the native module of every layer (<see cref="NativeModuleRelease"/>).</summary>
    protected override void Dispose(bool disposing)
    {
        if (disposing) NativeModuleRelease.Dispose(this, () => base.Dispose(true));
        else base.Dispose(false);
    }
}
