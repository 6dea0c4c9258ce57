// The library never hands libtorch a Scalar that a finalizer may free mid-call (TorchSharp 0.107's implicit Scalars; see
// src/Core/Runtime/KeptScalars.cs): no such call in the library's IL, the held arithmetic gives the operators' bits, and
// training and sampling survive a thread that keeps the garbage collector busy. Before the fix, the stress test's training
// loop failed within 2.6-7.4 s ("Expected false to be true", "Unknown scalar type"; 134-510 steps, three runs).
using System.Diagnostics;
using TorchSharp;
using UViT.MLNet.Core.Diffusion;
using UViT.MLNet.Core.Generation;
using UViT.MLNet.Core.Networks;
using UViT.MLNet.Core.Runtime;
using UViT.MLNet.Core.Training;
using UViT.MLNet.Tests.Support;
using static TorchSharp.torch;

namespace UViT.MLNet.Tests.Runtime;

[TestClass]
public sealed class KeptScalarTests
{
    public TestContext TestContext { get; set; } = null!;

    /// <summary>Where an unheld Scalar is harmless, and why.</summary>
    private static readonly Dictionary<string, string> Allowed = new()
    {
        // TorchSharp's BatchNorm makes one (num_batches_tracked.add_(1)) only in training mode; the library trains BatchNorm
        // only in the digit judge's own offline training command (DigitJudgeTrainer), never beside a user's threads.
        ["TorchSharp.Modules.BatchNorm.forward"] = "BatchNorm runs in eval mode outside the judge's own training command",
    };

    private static IEnumerable<string> LibraryAssemblies()
    {
        yield return typeof(UViTNetwork).Assembly.Location;                                   // Core
        yield return typeof(UViT.MLNet.Transforms.Latents.LatentEncodingTransformer).Assembly.Location; // Transforms
        yield return typeof(UViT.MLNet.Estimators.UViTTrainer).Assembly.Location;             // Estimators
        yield return typeof(UViT.MLNet.Samples.ClassGrid).Assembly.Location;                 // Samples support
        string configuration = new DirectoryInfo(AppContext.BaseDirectory).Parent!.Name;
        yield return Path.Combine(Fixtures.RepoRoot, "src", "Samples", "Cli", "bin", configuration, "net10.0", "uvit.dll");
    }

    [TestMethod]
    public void TheLibraryHandsLibtorchNoScalarThatNobodyHolds()
    {
        var found = new List<string>();
        var allowedSeen = new HashSet<string>();
        foreach (string assembly in LibraryAssemblies())
        {
            Assert.IsTrue(File.Exists(assembly), $"{assembly} is not built.");
            foreach (string call in ImplicitScalarCalls.In(assembly))
            {
                if (Allowed.Keys.FirstOrDefault(call.EndsWith) is { } allowed) allowedSeen.Add(allowed);
                else found.Add($"{Path.GetFileName(assembly)}: {call}");
            }
        }
        Assert.IsEmpty(Allowed.Keys.Except(allowedSeen), "An allowed exception no longer occurs; remove it from Allowed.");
        Assert.IsEmpty(found, "Calls that give libtorch a Scalar nobody holds (use Core.Runtime.KeptScalars, or a `using` Scalar from ToScalar()):\n" +
                              string.Join("\n", found));
    }

    /// <summary>A deliberate implicit Scalar, for the scanner to find.</summary>
    private static Tensor HalfOf(Tensor t) => t * 0.5;

    /// <summary>A deliberate hidden one: TorchSharp's one-argument add passes alpha = 1 as an implicit Scalar.</summary>
    private static Tensor SumOf(Tensor a, Tensor b) => a + b;

    [TestMethod]
    public void TheScannerFindsImplicitScalarsInOurCodeAndInsideTorchSharp()
    {
        var found = ImplicitScalarCalls.In(typeof(KeptScalarTests).Assembly.Location);
        Assert.IsTrue(found.Any(call => call.Contains("KeptScalarTests.cs") && call.Contains("op_Multiply(Tensor, Double)")), string.Join("\n", found.Take(20)));
        Assert.IsTrue(found.Any(call => call.Contains("KeptScalarTests.cs") && call.Contains("op_Addition(Tensor, Tensor)")), string.Join("\n", found.Take(20)));
        Assert.IsTrue(ImplicitScalarCalls.MakesUnheldScalar("TorchSharp.torch/Tensor TorchSharp.torch/Tensor::add(TorchSharp.torch/Tensor)"));
        Assert.IsTrue(ImplicitScalarCalls.MakesUnheldScalar("TorchSharp.torch/Tensor TorchSharp.Modules.AdamW::step(System.Func`1<TorchSharp.torch/Tensor>)"));
        Assert.IsFalse(ImplicitScalarCalls.MakesUnheldScalar("TorchSharp.torch/Tensor TorchSharp.torch/Tensor::add(TorchSharp.torch/Tensor,TorchSharp.Scalar)"));
        using var t = ones(2);
        using var half = HalfOf(t);
        using var sum = SumOf(t, t);
        Assert.AreEqual(5f, half.Plus(sum).sum().item<float>());   // the examples are real code: 2 x (0.5 + 2)
    }

    [TestMethod]
    public void HeldArithmeticGivesTheOperatorsBitsAndTypes()
    {
        using var scope = NewDisposeScope();
        using var generator = new Generator(5);
        var x = randn([64], generator: generator);                                    // [64] float32
        var y = randn([64], generator: generator);                                    // [64] float32
        var n = randint(-5, 5, [64], dtype: ScalarType.Int64, generator: generator);   // [64] int64
        (Tensor Held, Tensor Operator)[] pairs =
        [
            (x.Plus(y), x + y), (x.Plus(0.1), x + 0.1), (n.Plus(3), n + 3), (x.Minus(0.3), x - 0.3), (n.Minus(1), n - 1),
            (x.SubtractedFrom(1.0), 1.0 - x), (x.Times(0.7), x * 0.7), (n.Times(2), n * 2), (x.Times(0.1f), x * 0.1f),
            (x.DividedBy(3.0), x / 3.0), (n.DividedBy(2), n / 2), (x.Squared(), x.square()), (x.AtLeast(0), x.clamp_min(0)),
            (x.AtMost(0.5), x.clamp_max(0.5)), (x.Clamped(-0.5, 0.5), x.clamp(-0.5, 0.5)), (n.Clamped(0, 3), n.clamp(0, 3)),
            (x.clone().PlusInPlace(y), x.clone().add_(y)), (x.clone().PlusInPlace(-1.0), x.clone().add_(-1.0)),
            (x.clone().TimesInPlace(2), x.clone().mul_(2)),
        ];
        foreach (var (held, op) in pairs)
        {
            Assert.AreEqual(op.dtype, held.dtype);
            Assert.IsTrue(Fixtures.Identical(op, held), $"held arithmetic differs from the operator ({op.dtype})");
        }
    }

    [TestMethod]
    public void TrainingAndSamplingSurviveAThreadThatKeepsTheCollectorBusy()
    {
        using var oneThread = new SingleThread();
        var config = new UViTConfig { ImageSize = 8, PatchSize = 4, InChannels = 1, EmbedDim = 16, Depth = 2, NumHeads = 2, NumClasses = 3 };
        var stop = false;
        var churn = new Thread(() =>
        {
            var kept = new object[64];
            for (int i = 0; !Volatile.Read(ref stop); i++) kept[i & 63] = new byte[4096];   // ~a collection every few milliseconds
        }) { IsBackground = true };
        churn.Start();
        try
        {
            long steps = 0, samples = 0;
            using (var session = new UViTTrainingSession(new UViTNetwork(config, seed: 0), new TrainingRecipe { ConditionDropProbability = 0.1 }, seed: 0, nullClass: 2))
            using (var data = new Generator(1))
            {
                var clock = Stopwatch.StartNew();
                while (clock.Elapsed.TotalSeconds < 10)
                {
                    using var step = NewDisposeScope();
                    var x = rand([4, 1, 8, 8], generator: data);                                  // [4, 1, 8, 8]
                    var y = randint(0, 2, [4], dtype: ScalarType.Int64, generator: data);         // [4]
                    Assert.IsTrue(float.IsFinite(session.TrainStep(x, y)));
                    steps++;
                }
            }
            using (var generator = new UViTGenerator(new UViTNetwork(config, seed: 1), new UViTNetwork(config, seed: 1), NoiseScheduleKind.ContinuousVP, nullClass: 2))
            {
                SamplerSettings[] settings =
                [
                    new() { Sampler = SamplerKind.Ddim, DdimEta = 1, Steps = 10, GuidanceScale = 2 },
                    new() { Sampler = SamplerKind.DpmSolverPlusPlus, Steps = 10, GuidanceScale = 2 },
                    new() { Sampler = SamplerKind.DpmSolver, Steps = 10 },
                    new() { Sampler = SamplerKind.EulerMaruyama, Steps = 10, GuidanceScale = 1 },
                ];
                var clock = Stopwatch.StartNew();
                while (clock.Elapsed.TotalSeconds < 4)
                {
                    using var images = generator.Generate([samples, samples + 1], [0, 1], settings[samples / 2 % settings.Length]);   // [2, 1, 8, 8]
                    Assert.IsTrue(isfinite(images).all().item<bool>());
                    samples += 2;
                }
            }
            TestContext.WriteLine($"{steps} training steps and {samples} samples beside the allocating thread");
            Assert.IsGreaterThan(0L, steps);
            Assert.IsGreaterThan(0L, samples);
        }
        finally
        {
            Volatile.Write(ref stop, true);
            churn.Join();
        }
    }
}
