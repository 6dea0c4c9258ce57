// The U-ViT's output conv back-propagates the right gradient on the CPU (libtorch 2.10's float32 conv2d input gradient is
// zeros or stale memory for batches of 2 or more on AVX-512 CPUs; GradientSafeConvolution works around it), and the digit
// judge's convs, which keep libtorch's conv2d, are not hit by it. Ground truth is float64: central finite differences of the
// float64 convolution, and float64 copies of the networks.
using TorchSharp;
using TorchSharp.Modules;
using UViT.MLNet.Core.Evaluation;
using UViT.MLNet.Core.Networks;
using UViT.MLNet.Tests.Support;
using static TorchSharp.torch;

namespace UViT.MLNet.Tests.Networks;

[TestClass]
public sealed class GradientSafeConvolutionTests
{
    private static double RelativeError(Tensor actual, Tensor expected)
    {
        using var scope = NewDisposeScope();
        return actual.to(ScalarType.Float64).sub(expected).abs().max().item<double>() / expected.abs().max().item<double>();
    }

    [TestMethod]
    public void TheFloat64ReferenceAgreesWithFiniteDifferences()
    {
        using var generator = new Generator(3);
        var x = randn([3, 2, 6, 6], dtype: ScalarType.Float64, generator: generator).requires_grad_();   // [B, C, H, W]
        var weight = randn([2, 2, 3, 3], dtype: ScalarType.Float64, generator: generator);
        var upstream = randn([3, 2, 6, 6], dtype: ScalarType.Float64, generator: generator);
        double Objective(Tensor input) => nn.functional.conv2d(input, weight, padding: [1, 1]).mul(upstream).sum().item<double>();
        nn.functional.conv2d(x, weight, padding: [1, 1]).mul(upstream).sum().backward();
        var clean = x.detach().clone();
        const double step = 1e-6;
        for (int k = 0; k < 12; k++)
        {
            long[] at = [k % 3, k % 2, k * 5 % 6, k * 7 % 6];
            var plus = clean.clone();
            var minus = clean.clone();
            plus[at[0], at[1], at[2], at[3]] = plus[at[0], at[1], at[2], at[3]].add(step);
            minus[at[0], at[1], at[2], at[3]] = minus[at[0], at[1], at[2], at[3]].sub(step);
            double numeric = (Objective(plus) - Objective(minus)) / (2 * step);
            double analytic = x.grad![at[0], at[1], at[2], at[3]].item<double>();
            Assert.AreEqual(numeric, analytic, 1e-6 * Math.Max(1, Math.Abs(numeric)), $"d/dx at [{string.Join(", ", at)}]");
        }
    }

    [TestMethod]
    public void UnfoldedConvolutionGivesConv2dsOutputsAndFloat64sGradients()
    {
        using (new SingleThread())
        {
            using var generator = new Generator(4);
            var x = randn([4, 3, 8, 8], generator: generator);                                            // [B, C, H, W]
            var weight = randn([3, 3, 3, 3], generator: generator).requires_grad_();
            var bias = randn([3], generator: generator).requires_grad_();
            var upstream = randn([4, 3, 8, 8], generator: generator);
            var input = x.clone().requires_grad_();
            var output = GradientSafeConvolution.Unfolded(input, weight, bias);
            using (no_grad())
                Assert.IsTrue(RelativeError(output, nn.functional.conv2d(x, weight, bias, padding: [1, 1]).to(ScalarType.Float64)) < 1e-5, "forward");
            output.mul(upstream).sum().backward();

            var x64 = x.to(ScalarType.Float64).requires_grad_();
            var weight64 = weight.detach().to(ScalarType.Float64).requires_grad_();
            var bias64 = bias.detach().to(ScalarType.Float64).requires_grad_();
            nn.functional.conv2d(x64, weight64, bias64, padding: [1, 1]).mul(upstream.to(ScalarType.Float64)).sum().backward();
            Assert.IsTrue(RelativeError(input.grad!, x64.grad!) < 1e-5, $"input gradient off by {RelativeError(input.grad!, x64.grad!):E2}");
            Assert.IsTrue(RelativeError(weight.grad!, weight64.grad!) < 1e-5, "weight gradient");
            Assert.IsTrue(RelativeError(bias.grad!, bias64.grad!) < 1e-5, "bias gradient");
        }
    }

    [TestMethod]
    public void WithoutGradientsTheModuleItselfRuns()
    {
        using var generator = new Generator(5);
        using var conv = nn.Conv2d(2, 2, 3, padding: 1);
        var x = randn([3, 2, 8, 8], generator: generator);
        using (no_grad()) Assert.IsTrue(Fixtures.Identical(conv.forward(x), GradientSafeConvolution.Apply(conv, x)), "no_grad: conv2d itself");
        Assert.IsTrue(Fixtures.Identical(conv.forward(x), GradientSafeConvolution.Apply(conv, x)), "an input that needs no gradient: conv2d itself");
    }

    [TestMethod]
    public void EveryUViTGradientMatchesAFloat64CopyOfTheNetwork()
    {
        // The output conv is last, so a wrong input gradient there reaches every other parameter.
        var config = new UViTConfig { ImageSize = 8, PatchSize = 2, InChannels = 2, EmbedDim = 32, Depth = 2, NumHeads = 2, NumClasses = 3, Conv = true };
        using (new SingleThread())
        {
            using var network = new UViTNetwork(config, seed: 6);
            using var network64 = new UViTNetwork(config, dtype: ScalarType.Float64, seed: 6);
            using (no_grad())
            {
                var target = network64.state_dict();
                foreach (var (key, value) in network.state_dict()) target[key].copy_(value);
            }
            using var generator = new Generator(7);
            var x = randn([4, 2, 8, 8], generator: generator);                                           // [B, C, H, W]
            var time = rand([4], generator: generator);                                                  // [B]
            var labels = randint(0, 3, [4], dtype: ScalarType.Int64, generator: generator);             // [B]
            network.forward(x, time, labels).pow(2).mean().backward();
            network64.forward(x.to(ScalarType.Float64), time, labels).pow(2).mean().backward();
            var expected = network64.named_parameters().ToDictionary(p => p.name, p => p.parameter.grad!);
            foreach (var (name, parameter) in network.named_parameters())
            {
                double error = RelativeError(parameter.grad!, expected[name]);
                Assert.IsTrue(error < 1e-3, $"'{name}': gradient off by {error:E2} of its largest float64 value");
            }
        }
    }

    [TestMethod]
    public void TheDigitJudgesPlainConvsBackPropagateTheRightGradient()
    {
        // The bug depends on the conv's shape: the judge's convs (1->32, 32->64, 64->64 channels) get the right input gradient
        // from libtorch at one thread, where the U-ViT's output conv got zeros, so the judge trains with the plain conv2d.
        using (new SingleThread())
        {
            using var scope = NewDisposeScope();
            manual_seed(8);
            using var judge = new DigitJudge();
            using var judge64 = new DigitJudge();
            judge64.to(ScalarType.Float64);
            using (no_grad())
            {
                var target = judge64.state_dict();
                foreach (var (key, value) in judge.state_dict()) target[key].copy_(value);
            }
            using var generator = new Generator(9);
            var images = rand([64, 1, DigitJudge.ImageSize, DigitJudge.ImageSize], generator: generator).mul(255);   // [B, 1, 28, 28], B = the judge's training batch
            judge.forward(images).pow(2).mean().backward();                       // eval mode: no dropout, running BatchNorm statistics
            judge64.forward(images.to(ScalarType.Float64)).pow(2).mean().backward();
            var expected = judge64.named_parameters().ToDictionary(p => p.name, p => p.parameter.grad!);
            foreach (var (name, parameter) in judge.named_parameters())
            {
                double error = RelativeError(parameter.grad!, expected[name]);
                Assert.IsTrue(error < 1e-3, $"'{name}': gradient off by {error:E2} of its largest float64 value");
            }
        }
    }
}
