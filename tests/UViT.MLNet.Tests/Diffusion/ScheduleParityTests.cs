// Parity of the noise schedules with the official code: every tensor of the schedules fixture (SD betas, their cumulative
// product, and both schedules evaluated at t_query) within the manifest's embedding/schedule tolerance.
using UViT.MLNet.Core.Diffusion;
using UViT.MLNet.Tests.Support;
using static TorchSharp.torch;

namespace UViT.MLNet.Tests.Diffusion;

[TestClass]
public sealed class ScheduleParityTests
{
    private static string ScheduleFile => Fixtures.ManifestFiles.Single(f => f.File.StartsWith("schedules", StringComparison.Ordinal)).File;

    /// <summary>Every fixture tensor named {discrete|linear}_{quantity}.</summary>
    public static IEnumerable<object[]> Cases()
    {
        var entry = Fixtures.ManifestFiles.Single(f => f.File == ScheduleFile).Entry;
        foreach (var tensor in entry.GetProperty("tensors").EnumerateObject())
        {
            if (tensor.Name.StartsWith("discrete_", StringComparison.Ordinal) || tensor.Name.StartsWith("linear_", StringComparison.Ordinal))
                yield return [tensor.Name];
        }
    }

    private static Tensor Evaluate(NoiseSchedule schedule, string quantity, Tensor t) => quantity switch
    {
        "log_alpha" => schedule.LogAlpha(t),
        "alpha" => schedule.Alpha(t),
        "sigma" => schedule.Sigma(t),
        "lambda" => schedule.Lambda(t),
        "inverse_lambda" => schedule.InverseLambda(schedule.Lambda(t)),
        _ => throw new AssertFailedException($"unknown schedule quantity '{quantity}'"),
    };

    [TestMethod]
    public void FixtureHasBothSchedules()
    {
        var names = Cases().Select(c => (string)c[0]).ToList();
        Assert.IsTrue(names.Any(n => n.StartsWith("discrete_", StringComparison.Ordinal)) && names.Any(n => n.StartsWith("linear_", StringComparison.Ordinal)),
            "expected discrete_* and linear_* tensors");
    }

    [TestMethod]
    [DynamicData(nameof(Cases))]
    public void ScheduleMatchesOfficialCode(string name)
    {
        using var scope = NewDisposeScope();
        using var discrete = new DiscreteSDSchedule();
        var io = Fixtures.Tensors(ScheduleFile);
        NoiseSchedule schedule = name.StartsWith("discrete_", StringComparison.Ordinal) ? discrete : new ContinuousVPSchedule();
        string quantity = name[(name.IndexOf('_') + 1)..];
        var actual = Evaluate(schedule, quantity, io["t_query"]);
        Assert.AreEqual(io[name].dtype, actual.dtype, name);
        double diff = Fixtures.MaxAbsDiff(actual, io[name]);
        Console.WriteLine($"{name}: max |diff| = {diff:E3}");
        Assert.IsLessThanOrEqualTo(Fixtures.Tolerances.Embedding, diff, $"{name}: max |diff| = {diff:E3}");
    }

    [TestMethod]
    public void BetasAndAlphaBarMatchOfficialCode()
    {
        using var scope = NewDisposeScope();
        using var schedule = new DiscreteSDSchedule();
        var io = Fixtures.Tensors(ScheduleFile);
        Assert.AreEqual(io["sd_betas"].shape[0], schedule.StepCount);
        double betaDiff = Fixtures.MaxAbsDiff(tensor(schedule.Betas), io["sd_betas"]);
        double barDiff = Fixtures.MaxAbsDiff(schedule.AlphaBarTable(), io["sd_alphas_cumprod"]);
        Console.WriteLine($"betas {betaDiff:E3}, alpha_bar {barDiff:E3}");
        Assert.IsLessThanOrEqualTo(Fixtures.Tolerances.Embedding, betaDiff, $"betas: max |diff| = {betaDiff:E3}");
        Assert.IsLessThanOrEqualTo(Fixtures.Tolerances.Embedding, barDiff, $"alpha_bar: max |diff| = {barDiff:E3}");
        Assert.AreEqual(1.0, schedule.AlphaBar(0));
        Assert.AreEqual(io["sd_alphas_cumprod"][0].item<double>(), schedule.AlphaBar(1), 1e-15, "alpha_bar is 1-based");
    }
}
