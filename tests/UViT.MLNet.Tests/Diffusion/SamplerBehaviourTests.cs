// Properties every sampler must have beyond fixture parity: exactness on data with closed-form ODEs, DDIM's basics,
// progress reports, cancellation, and no leaked tensors.
using TorchSharp;
using UViT.MLNet.Core.Diffusion;
using static TorchSharp.torch;
using static UViT.MLNet.Tests.Diffusion.TensorAssert;

namespace UViT.MLNet.Tests.Diffusion;

[TestClass]
public sealed class SamplerBehaviourTests
{
    private sealed class SyncProgress(Action<SamplerProgress> report) : IProgress<SamplerProgress>
    {
        public void Report(SamplerProgress value) => report(value);
    }

    private sealed class ForbiddenNoise : ISamplerNoise
    {
        public Tensor Next(Tensor like) => throw new AssertFailedException("a deterministic sampler drew noise");
    }

    private static Tensor InitialNoise(long seed, long batch = 3)
    {
        using var noise = new RowSeededNoise(Enumerable.Range(0, (int)batch).Select(i => seed + i).ToArray());
        return noise.InitialNoise([2, 4, 4]);   // [B, 2, 4, 4]
    }

    /// <summary>(name, factory) for each deterministic sampler on each schedule it supports.</summary>
    public static IEnumerable<object[]> OdeSamplers()
    {
        yield return ["dpm++ discrete 20", (Func<NoiseSchedule, DiffusionSampler>)(s => new DpmSolverPlusPlusSampler(s, 20)), true];
        yield return ["dpm++ continuous 10", (Func<NoiseSchedule, DiffusionSampler>)(s => new DpmSolverPlusPlusSampler(s, 10)), false];
        yield return ["dpm fast continuous 20", (Func<NoiseSchedule, DiffusionSampler>)(s => new DpmSolverFastSampler(s, 20)), false];
        yield return ["dpm fast discrete 12", (Func<NoiseSchedule, DiffusionSampler>)(s => new DpmSolverFastSampler(s, 12)), true];
        yield return ["ddim continuous 10", (Func<NoiseSchedule, DiffusionSampler>)(s => new DdimSampler(s, 10)), false];
        yield return ["ddim discrete 10", (Func<NoiseSchedule, DiffusionSampler>)(s => new DdimSampler(s, 10)), true];
    }

    private static NoiseSchedule Schedule(bool discrete) => discrete ? new DiscreteSDSchedule() : new ContinuousVPSchedule();

    [TestMethod]
    [DynamicData(nameof(OdeSamplers))]
    public void OdeSamplersAreExactForAPointMass(string name, Func<NoiseSchedule, DiffusionSampler> make, bool discrete)
    {
        // With the exact denoiser of a single point the ODE's x0 prediction is constant, and every first-order-exact
        // solver (DDIM, DPM-Solver, DPM-Solver++) lands on the closed-form solution.
        var schedule = Schedule(discrete);
        using var scope = NewDisposeScope();
        var xT = InitialNoise(1);
        var sample = make(schedule).Sample(AnalyticDenoisers.PointMass(schedule, 0.7), xT, new ForbiddenNoise());
        var expected = AnalyticDenoisers.PointMassSolution(schedule, 0.7, xT, schedule.T, schedule.DefaultEndTime);
        double diff = Support.Fixtures.MaxAbsDiff(sample, expected);
        Console.WriteLine($"{name}: max |diff| = {diff:E3}");
        Assert.IsLessThanOrEqualTo(1e-4, diff, $"{name}: max |diff| = {diff:E3}");
        (schedule as IDisposable)?.Dispose();
    }

    [TestMethod]
    [DataRow(false)]
    [DataRow(true)]
    public void HigherOrderSolversBeatDdimOnGaussianData(bool discrete)
    {
        // N(0, s^2) data: a curved ODE path with a closed form. DDIM converges (error shrinks with steps); DPM-Solver(++)
        // at 20 evaluations is more accurate than DDIM at 40 on the schedule each is used with officially.
        var schedule = Schedule(discrete);
        using var scope = NewDisposeScope();
        var xT = InitialNoise(2);
        var model = AnalyticDenoisers.Gaussian(schedule, 0.5);
        var exact = AnalyticDenoisers.GaussianSolution(schedule, 0.5, xT, 1, schedule.DefaultEndTime);
        double Error(DiffusionSampler sampler) => Support.Fixtures.MaxAbsDiff(sampler.Sample(model, xT), exact);
        double ddim20 = Error(new DdimSampler(schedule, 20)), ddim40 = Error(new DdimSampler(schedule, 40));
        double fast = Error(new DpmSolverFastSampler(schedule, 20)), plus = Error(new DpmSolverPlusPlusSampler(schedule, 20));
        Console.WriteLine($"discrete={discrete}: ddim20 {ddim20:E3} ddim40 {ddim40:E3} fast20 {fast:E3} ++20 {plus:E3}");
        Assert.IsLessThan(ddim20, ddim40);
        Assert.IsLessThan(ddim40, discrete ? plus : fast);
        (schedule as IDisposable)?.Dispose();
    }

    [TestMethod]
    public void DdimWithEtaDrawsOncePerStepButTheLastAndIsReproducibleFromSeeds()
    {
        var schedule = new ContinuousVPSchedule();
        using var scope = NewDisposeScope();
        var xT = InitialNoise(3);
        var model = AnalyticDenoisers.Gaussian(schedule, 0.5);
        var sampler = new DdimSampler(schedule, 8, eta: 1);
        var recorded = new RecordedNoise(randn([8, 3, 2, 4, 4]));
        sampler.Sample(model, xT, recorded);
        Assert.AreEqual(7, recorded.Drawn);

        Tensor Run(long seed)
        {
            using var noise = new RowSeededNoise([seed, seed + 1, seed + 2]);
            return sampler.Sample(model, xT, noise);
        }
        var a = Run(10);
        Assert.IsTrue(BitEqual(a, Run(10)), "same seeds, same samples");
        Assert.IsFalse(BitEqual(a, Run(20)), "other seeds, other samples");
        var deterministic = new DdimSampler(schedule, 8).Sample(model, xT, new ForbiddenNoise());
        Assert.IsGreaterThan(1e-3, Support.Fixtures.MaxAbsDiff(a, deterministic), "eta = 1 must differ from eta = 0");
    }

    [TestMethod]
    [DataRow(false)]
    [DataRow(true)]
    public void DdimWithEtaEndsOnTheNoiseFreePredictionLikeDdpm(bool discrete)
    {
        // For a point mass the x0 prediction is the point at every noise level: a stochastic DDIM run must land on it
        // exactly (no end-time noise left), while eta = 0 stops at the ODE's end-time solution (alpha x0 + sigma eps).
        var schedule = Schedule(discrete);
        using var scope = NewDisposeScope();
        var xT = InitialNoise(4);
        var model = AnalyticDenoisers.PointMass(schedule, 0.7);
        using var noise = new RowSeededNoise([5, 6, 7]);
        var stochastic = new DdimSampler(schedule, 10, eta: 1).Sample(model, xT, noise);
        Assert.IsLessThanOrEqualTo(1e-5, Support.Fixtures.MaxAbsDiff(stochastic, full_like(stochastic, 0.7)), "eta = 1 must end on the data");
        var deterministic = new DdimSampler(schedule, 10).Sample(model, xT, new ForbiddenNoise());
        var endTime = AnalyticDenoisers.PointMassSolution(schedule, 0.7, xT, schedule.T, schedule.DefaultEndTime);
        Assert.IsLessThanOrEqualTo(1e-4, Support.Fixtures.MaxAbsDiff(deterministic, endTime));
        Assert.IsGreaterThan(1e-4, Support.Fixtures.MaxAbsDiff(endTime, full_like(endTime, 0.7)), "the end time's noise is visible at this scale");
        (schedule as IDisposable)?.Dispose();
    }

    [TestMethod]
    public void EulerMaruyamaDrawsOncePerStepButTheLast()
    {
        var schedule = new ContinuousVPSchedule();
        using var scope = NewDisposeScope();
        var sampler = new EulerMaruyamaSampler(schedule, 12);
        var recorded = new RecordedNoise(randn([11, 3, 2, 4, 4]));
        sampler.Sample(AnalyticDenoisers.Gaussian(schedule, 0.5), InitialNoise(4), recorded);
        Assert.AreEqual(11, recorded.Drawn);
        Assert.AreEqual(11, sampler.NoiseDraws);
    }

    [TestMethod]
    public void ProgressReportsEveryStepWithOwnedX0()
    {
        var schedule = new ContinuousVPSchedule();
        using var scope = NewDisposeScope();
        var xT = InitialNoise(5);
        foreach (var sampler in new DiffusionSampler[]
                 {
                     new DpmSolverFastSampler(schedule, 10) { ReportPredictedX0 = true },
                     new DpmSolverPlusPlusSampler(schedule, 10) { ReportPredictedX0 = true },
                     new DdimSampler(schedule, 5) { ReportPredictedX0 = true },
                     new EulerMaruyamaSampler(schedule, 5) { ReportPredictedX0 = true },
                 })
        {
            var reports = new List<(int Step, int Total)>();
            sampler.Sample(AnalyticDenoisers.PointMass(schedule, 0.3), xT, progress: new SyncProgress(p =>
            {
                reports.Add((p.Step, p.Total));
                Assert.IsNotNull(p.PredictedX0, $"{sampler.GetType().Name} step {p.Step}: no x0");
                CollectionAssert.AreEqual(xT.shape, p.PredictedX0.shape);
                Assert.AreEqual(0.3, p.PredictedX0.mean().item<float>(), 0.05, "x0 of a point mass is the point");
                p.PredictedX0.Dispose();
            }));
            CollectionAssert.AreEqual(Enumerable.Range(1, sampler.StepCount).Select(i => (i, sampler.StepCount)).ToList(), reports, sampler.GetType().Name);
        }
    }

    [TestMethod]
    public void CancellationStopsBetweenSteps()
    {
        var schedule = new ContinuousVPSchedule();
        using var scope = NewDisposeScope();
        using var cancel = new CancellationTokenSource();
        int calls = 0;
        NoisePredictor model = (x, t) => { calls++; return zeros_like(x); };
        var sampler = new DdimSampler(schedule, 10);
        Assert.ThrowsExactly<OperationCanceledException>(() =>
            sampler.Sample(model, InitialNoise(6), progress: new SyncProgress(p => { if (p.Step == 3) cancel.Cancel(); }), cancellationToken: cancel.Token));
        Assert.AreEqual(3, calls);
    }

    [TestMethod]
    public void LiveCountSeesTensorsMadeOutsideAnyScope()
    {
        // The leak tests below are only meaningful if the statistic counts unscoped tensors (samplers' callers rarely scope).
        long before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        var probe = zeros(1);
        Assert.AreEqual(before + 1, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
        probe.Dispose();
        Assert.AreEqual(before, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
    }

    [TestMethod]
    public void SamplingLeavesNoLiveTensors()
    {
        var continuous = new ContinuousVPSchedule();
        using var discrete = new DiscreteSDSchedule();
        var xT = InitialNoise(7);
        var samplers = new (DiffusionSampler Sampler, NoiseSchedule Schedule)[]
        {
            (new DpmSolverPlusPlusSampler(discrete, 10) { ReportPredictedX0 = true }, discrete),
            (new DpmSolverFastSampler(continuous, 10), continuous),
            (new EulerMaruyamaSampler(continuous, 6), continuous),
            (new DdimSampler(continuous, 6, eta: 0.5), continuous),
        };
        foreach (var (sampler, schedule) in samplers)
        {
            var model = AnalyticDenoisers.Gaussian(schedule, 0.5);
            long before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
            using (var noise = new RowSeededNoise([1, 2, 3]))
            {
                var sample = sampler.Sample(model, xT, noise, new SyncProgress(p => p.PredictedX0?.Dispose()));
                sample.Dispose();
            }
            long after = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
            Assert.AreEqual(before, after, $"{sampler.GetType().Name} leaked {after - before} tensors");
        }
        xT.Dispose();
    }

    [TestMethod]
    public void GuidedNetworkSamplingLeavesNoLiveTensors()
    {
        using var threads = new Support.SingleThread();
        using var model = SamplerFixture.LoadModel();
        using var discrete = new DiscreteSDSchedule();
        var io = Support.Fixtures.Tensors(SamplerFixture.Io.File);
        var guided = SamplerFixture.Guided(model, io);
        foreach (var sampler in new DiffusionSampler[] { new DpmSolverPlusPlusSampler(discrete, 5) { ReportPredictedX0 = true }, new EulerMaruyamaSampler(new ContinuousVPSchedule(), 4) })
        {
            long before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
            using (var noise = new RowSeededNoise([1, 2]))
                sampler.Sample(guided, io["z_init"], noise, new SyncProgress(p => p.PredictedX0?.Dispose())).Dispose();
            long after = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
            Assert.AreEqual(before, after, $"{sampler.GetType().Name} leaked {after - before} tensors");
        }
        foreach (var tensor in io.Values) tensor.Dispose();
    }

    [TestMethod]
    public void ScheduleCallsOutsideAnyScopeLeaveOnlyTheirResult()
    {
        using var discrete = new DiscreteSDSchedule();
        var t = tensor(new[] { 0.25f, 0.5f });
        foreach (NoiseSchedule schedule in new NoiseSchedule[] { discrete, new ContinuousVPSchedule() })
        {
            long before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
            foreach (var result in new[] { schedule.LogAlpha(t), schedule.Alpha(t), schedule.Sigma(t), schedule.Lambda(t), schedule.NetworkTime(t) })
                result.Dispose();
            using (var lambda = schedule.Lambda(t)) schedule.InverseLambda(lambda).Dispose();
            Assert.AreEqual(before, DisposeScopeManager.Statistics.ThreadTotalLiveCount, schedule.GetType().Name);
        }
        t.Dispose();
    }

    [TestMethod]
    public void PredictedX0IsNotCopiedWithoutAReceiver()
    {
        var schedule = new ContinuousVPSchedule();
        var xT = InitialNoise(8);
        var sampler = new DdimSampler(schedule, 4) { ReportPredictedX0 = true };
        long before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        sampler.Sample(AnalyticDenoisers.PointMass(schedule, 0.1), xT).Dispose();
        Assert.AreEqual(before, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
        xT.Dispose();
    }
}
