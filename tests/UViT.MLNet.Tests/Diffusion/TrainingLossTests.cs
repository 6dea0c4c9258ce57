// The training objective: noise levels and network times per schedule, per-sample condition dropout, and that a tiny
// U-ViT trained on a toy distribution lowers its loss.
using TorchSharp;
using UViT.MLNet.Core.Diffusion;
using UViT.MLNet.Core.Networks;
using static TorchSharp.torch;

namespace UViT.MLNet.Tests.Diffusion;

[TestClass]
public sealed class TrainingLossTests
{
    [TestMethod]
    public void NoiseLevelsFollowEachSchedule()
    {
        using var scope = NewDisposeScope();
        using var generator = new Generator(5);
        using var discrete = new DiscreteSDSchedule();
        using (var level = TrainingNoiseLevel.Draw(discrete, 4000, CPU, generator))
        {
            var n = level.NetworkTime;
            Assert.AreEqual(1f, n.min().item<float>(), "n is 1-based");
            Assert.AreEqual(discrete.StepCount, n.max().item<float>(), 0f);
            Assert.IsTrue(TensorAssert.BitEqual(n, n.round()), "discrete training feeds the integer n");
            var expected = tensor(n.data<float>().ToArray().Select(v => (float)Math.Sqrt(discrete.AlphaBar((int)v))).ToArray());
            Assert.IsTrue(TensorAssert.BitEqual(level.Alpha, expected), "alpha = sqrt(alpha_bar[n]) with 1-based n");
            Assert.IsLessThanOrEqualTo(1e-6, Support.Fixtures.MaxAbsDiff(level.Alpha.pow(2) + level.Sigma.pow(2), ones(4000)));
        }
        var continuous = new ContinuousVPSchedule();
        using (var level = TrainingNoiseLevel.Draw(continuous, 4000, CPU, generator))
        {
            var t = level.NetworkTime / 999.0;
            Assert.IsTrue(t.min().item<float>() >= 0 && t.max().item<float>() < 1, "t ~ U[0, 1), network time 999 t");
            Assert.IsLessThanOrEqualTo(1e-6, Support.Fixtures.MaxAbsDiff(level.Alpha, continuous.Alpha(t)));
        }
    }

    [TestMethod]
    public void LabelsAreDroppedPerSampleToTheNullClass()
    {
        using var scope = NewDisposeScope();
        using var generator = new Generator(7);
        var seen = new List<Tensor>();
        TrainingNoisePredictor model = (x, t, y, c) => { seen.Add(y!.clone().DetachFromDisposeScope()); return zeros_like(x); };
        var x0 = zeros(2000, 1, 2, 2);
        var labels = full(2000, 3L, dtype: ScalarType.Int64);
        foreach (var (p, low, high) in new[] { (0.0, 0, 0), (1.0, 2000, 2000), (0.15, 220, 380) })
        {
            seen.Clear();
            new NoisePredictionLoss(new ContinuousVPSchedule(), p, nullClass: 9).Compute(model, x0, labels, generator: generator);
            long dropped = (seen[0] == 9).sum().item<long>();
            Assert.AreEqual(2000, ((seen[0] == 9) | (seen[0] == 3)).sum().item<long>(), "labels are kept or become the null class");
            Assert.IsTrue(dropped >= low && dropped <= high, $"p_uncond {p}: {dropped} of 2000 dropped");
        }
    }

    [TestMethod]
    public void ContextsAreDroppedToTheEmptyPrompt()
    {
        using var scope = NewDisposeScope();
        Tensor? seen = null;
        TrainingNoisePredictor model = (x, t, y, c) => { seen = c!.clone().DetachFromDisposeScope(); return zeros_like(x); };
        var context = ones(6, 5, 4);
        var empty = zeros(1, 5, 4);
        new NoisePredictionLoss(new ContinuousVPSchedule(), 1.0).Compute(model, zeros(6, 1, 2, 2), context: context, emptyContext: empty);
        Assert.AreEqual(0f, seen!.abs().max().item<float>());
    }

    [TestMethod]
    public void LossLeavesOnlyItsResult()
    {
        using var discrete = new DiscreteSDSchedule();
        var x0 = randn(4, 1, 2, 2);
        var labels = tensor(new[] { 0L, 1L, 0L, 1L });
        TrainingNoisePredictor model = (x, t, y, c) => x * 0.5;
        foreach (NoiseSchedule schedule in new NoiseSchedule[] { discrete, new ContinuousVPSchedule() })
        {
            long before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
            new NoisePredictionLoss(schedule, 0.5, nullClass: 2).Compute(model, x0, labels).Dispose();
            Assert.AreEqual(before, DisposeScopeManager.Statistics.ThreadTotalLiveCount, schedule.GetType().Name);
        }
        x0.Dispose();
        labels.Dispose();
    }

    [TestMethod]
    public void ZeroPredictorHasUnitLoss()
    {
        using var scope = NewDisposeScope();
        foreach (NoiseSchedule schedule in new NoiseSchedule[] { new ContinuousVPSchedule(), new DiscreteSDSchedule() })
        {
            using var generator = new Generator(3);
            var x0 = randn(64, 3, 8, 8, generator: generator);
            TrainingNoisePredictor zero = (x, t, y, c) => zeros_like(x);
            double loss = new NoisePredictionLoss(schedule).Compute(zero, x0, generator: generator).item<float>();
            Assert.AreEqual(1.0, loss, 0.05, $"{schedule.GetType().Name}: E[eps^2] = 1");
            (schedule as IDisposable)?.Dispose();
        }
    }

    [TestMethod]
    [DataRow(false)]
    [DataRow(true)]
    public void TinyModelLearnsAToyDistribution(bool discrete)
    {
        // Toy data: class k in {0, 1} is a constant image at -0.5 or +0.5 plus small noise. A tiny class-conditional
        // U-ViT trained for 100 steps must lower the loss, measured on fixed held-out draws.
        NoiseSchedule schedule = discrete ? new DiscreteSDSchedule() : new ContinuousVPSchedule();
        var config = new UViTConfig { ImageSize = 8, PatchSize = 2, InChannels = 1, EmbedDim = 32, Depth = 2, NumHeads = 2, NumClasses = 3, Conv = false };
        using var network = new UViTNetwork(config, seed: 1);
        var loss = new NoisePredictionLoss(schedule, unconditionalProbability: 0.1, nullClass: 2);
        using var optimizer = optim.AdamW(network.parameters(), lr: 2e-3);
        using var data = new Generator(11);

        (Tensor X0, Tensor Labels) Batch(Generator g, int b)
        {
            var labels = randint(0, 2, [b], dtype: ScalarType.Int64, generator: g);                               // [B]
            var level = (labels.to(ScalarType.Float32) - 0.5).reshape(b, 1, 1, 1);                                 // [B, 1, 1, 1]
            return (level + randn([b, 1, 8, 8], generator: g) * 0.05, labels);                                     // [B, 1, 8, 8]
        }
        double Evaluate()
        {
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            using var g = new Generator(99);
            double total = 0;
            for (int i = 0; i < 8; i++)
            {
                var (x0, labels) = Batch(g, 64);
                total += loss.Compute(network, x0, labels, generator: g).item<float>();
            }
            return total / 8;
        }

        using var threads = new Support.SingleThread();
        network.train();
        double before = Evaluate();
        for (int step = 0; step < 100; step++)
        {
            using var scope = NewDisposeScope();
            var (x0, labels) = Batch(data, 16);
            optimizer.zero_grad();
            var value = loss.Compute(network, x0, labels, generator: data);
            value.backward();
            optimizer.step();
        }
        double after = Evaluate();
        Console.WriteLine($"discrete={discrete}: held-out loss {before:F4} -> {after:F4}");
        Assert.IsLessThan(0.7 * before, after, $"loss {before:F4} -> {after:F4}");
        (schedule as IDisposable)?.Dispose();
    }

    [TestMethod]
    public void MinSnrWeightsEachSampleByMinOfSnrAndGammaOverSnr()
    {
        using var scope = NewDisposeScope();
        using var discrete = new DiscreteSDSchedule();
        var x0 = rand(64, 1, 3, 3, generator: new Generator(1)) * 2 - 1;                          // [64, 1, 3, 3]
        Tensor? xt = null, times = null;
        TrainingNoisePredictor model = (x, t, y, c) => { xt = x.clone().DetachFromDisposeScope(); times = t.clone().DetachFromDisposeScope(); return zeros_like(x); };
        const double gamma = 5;
        float weighted = new NoisePredictionLoss(discrete, minSnrGamma: gamma).Compute(model, x0, generator: new Generator(3)).item<float>();
        // Recover each sample's noise from what the network saw: x_t = alpha x0 + sigma eps, with alpha_bar from the 1-based n.
        double[] n = times!.data<float>().Select(v => (double)v).ToArray();
        double expected = 0, unweighted = 0;
        bool someClipped = false, someKept = false;
        for (int i = 0; i < n.Length; i++)
        {
            double alphaBar = discrete.AlphaBar((int)n[i]), snr = alphaBar / (1 - alphaBar);
            var eps = (xt![i] - Math.Sqrt(alphaBar) * x0[i]) / Math.Sqrt(1 - alphaBar);                  // [1, 3, 3]
            double error = eps.pow(2).mean().item<float>();
            expected += Math.Min(snr, gamma) / snr * error / n.Length;
            unweighted += error / n.Length;
            someClipped |= snr > gamma;
            someKept |= snr < gamma;
        }
        Assert.IsTrue(someClipped && someKept, "the batch holds noise levels on both sides of gamma");
        Assert.AreEqual(expected, weighted, 1e-4 * expected, "min(SNR, gamma) / SNR per sample");
        float plain = new NoisePredictionLoss(discrete).Compute(model, x0, generator: new Generator(3)).item<float>();
        Assert.AreEqual(unweighted, plain, 1e-4 * unweighted, "the same draws without weighting give the plain mean");
        Assert.IsLessThan(plain, weighted, "weighting lowers the nearly clean samples' share");
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new NoisePredictionLoss(discrete, minSnrGamma: 0));
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new NoisePredictionLoss(discrete, minSnrGamma: double.NaN));
    }
}
