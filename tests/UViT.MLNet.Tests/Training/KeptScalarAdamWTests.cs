// KeptScalarOptimizers.AdamW is TorchSharp's AdamW (and, at weight decay 0, its Adam) bit for bit: same parameters and same optimiser
// state after several steps with a changing learning rate, and state saved by one loads into the other.
using TorchSharp;
using TorchSharp.Modules;
using UViT.MLNet.Core.Training;
using UViT.MLNet.Tests.Support;
using static TorchSharp.torch;

namespace UViT.MLNet.Tests.Training;

[TestClass]
public sealed class KeptScalarAdamWTests
{
    /// <summary>Two copies of a small network (same initial weights).</summary>
    private static (nn.Module<Tensor, Tensor> A, nn.Module<Tensor, Tensor> B) Twins()
    {
        nn.Module<Tensor, Tensor> Make() => nn.Sequential(nn.Linear(6, 8), nn.GELU(), nn.Linear(8, 3));
        var a = Make();
        var b = Make();
        b.load_state_dict(a.state_dict());
        return (a, b);
    }

    /// <summary>Runs <paramref name="steps"/> steps of both optimisers on the same losses; lr changes every step as in warm-up.</summary>
    private static void StepBoth(nn.Module<Tensor, Tensor> a, OptimizerHelper reference, nn.Module<Tensor, Tensor> b, OptimizerHelper kept, int steps)
    {
        using var data = new Generator(11);
        for (int i = 0; i < steps; i++)
        {
            using var scope = NewDisposeScope();
            var x = randn([5, 6], generator: data);   // [5, 6]
            foreach (var (module, optimizer) in new[] { (a, reference), (b, kept) })
            {
                foreach (var group in optimizer.ParamGroups) group.LearningRate = 1e-3 * (i + 1);
                optimizer.zero_grad();
                module.call(x).pow(2).mean().backward();
                optimizer.step();
            }
        }
    }

    private static void AssertSameParameters(nn.Module<Tensor, Tensor> a, nn.Module<Tensor, Tensor> b)
    {
        var expected = a.state_dict();
        foreach (var (key, value) in b.state_dict())
            Assert.IsTrue(Fixtures.Identical(expected[key], value), $"'{key}' differs from TorchSharp's optimiser");
    }

    private static byte[] SavedState(OptimizerHelper optimizer)
    {
        using var stream = new MemoryStream();
        using (var writer = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true)) optimizer.save_state_dict(writer);
        return stream.ToArray();
    }

    [TestMethod]
    public void StepsAsTorchSharpsAdamWBitForBit()
    {
        var (a, b) = Twins();
        using var reference = optim.AdamW(a.parameters(), lr: 1e-3, beta1: 0.99, beta2: 0.999, weight_decay: 0.03);
        using var kept = new KeptScalarOptimizers.AdamW(b.parameters(), lr: 1e-3, beta1: 0.99, beta2: 0.999, weightDecay: 0.03);
        StepBoth(a, reference, b, kept, steps: 6);
        AssertSameParameters(a, b);
        CollectionAssert.AreEqual(SavedState(reference), SavedState(kept), "the optimiser states differ");
    }

    [TestMethod]
    public void StepsAsTorchSharpsAdamAtWeightDecayZero()
    {
        var (a, b) = Twins();
        using var reference = optim.Adam(a.parameters(), lr: 2e-3);
        using var kept = new KeptScalarOptimizers.AdamW(b.parameters(), lr: 2e-3);
        StepBoth(a, reference, b, kept, steps: 5);
        AssertSameParameters(a, b);
    }

    [TestMethod]
    public void AmsgradAndMaximizeStepAsTorchSharpsAdamW()
    {
        var (a, b) = Twins();
        using var reference = optim.AdamW(a.parameters(), lr: 1e-3, weight_decay: 0.01, amsgrad: true, maximize: true);
        using var kept = new KeptScalarOptimizers.AdamW(b.parameters(), lr: 1e-3, weightDecay: 0.01, amsgrad: true, maximize: true);
        StepBoth(a, reference, b, kept, steps: 4);
        AssertSameParameters(a, b);
    }

    [TestMethod]
    public void StateSavedByTorchSharpsAdamWResumesBitForBit()
    {
        var (a, b) = Twins();
        using var reference = optim.AdamW(a.parameters(), lr: 1e-3, weight_decay: 0.03);
        using var warmup = optim.AdamW(b.parameters(), lr: 1e-3, weight_decay: 0.03);
        StepBoth(a, reference, b, warmup, steps: 3);
        using var kept = new KeptScalarOptimizers.AdamW(b.parameters(), lr: 1e-3, weightDecay: 0.03);
        using (var reader = new BinaryReader(new MemoryStream(SavedState(warmup)))) kept.load_state_dict(reader);   // a checkpoint from before
        StepBoth(a, reference, b, kept, steps: 3);
        AssertSameParameters(a, b);
    }
}
