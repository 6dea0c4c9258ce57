// `uvit ablate` end to end in a fresh process at a tiny setting: two variants x two seeds train, the digit judge reads their
// digits, and the table, plot and JSON lines come out with one row per variant and one line per run; an equal-compute variant
// trains for fewer steps than the baseline; unknown variants and out-of-range options are refused with exit code 1.
using System.Text.Json;
using UViT.MLNet.Tests.Support;

namespace UViT.MLNet.Tests.Samples;

[TestClass]
public sealed class AblateCliTests
{
    public TestContext TestContext { get; set; } = null!;

    [TestMethod]
    public void TinyAblationWritesTablePlotAndJsonLines()
    {
        string output = Path.Combine(TestContext.TestRunDirectory ?? Path.GetTempPath(), Guid.NewGuid().ToString("N"));
        var (exit, log) = CliProcess.Run("ablate", "--steps", "6", "--per-class", "2", "--seeds", "2", "--variants", "baseline,smaller-patch",
                                         "--sample-steps", "2", "--batch-size", "8", "--output", output);
        Assert.AreEqual(0, exit, log);

        var runs = File.ReadAllLines(Path.Combine(output, "ablation.jsonl")).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        CollectionAssert.AreEqual(new[] { "baseline/0", "baseline/1", "smaller-patch/0", "smaller-patch/1" },
                                  runs.Select(r => $"{r.GetProperty("variant").GetString()}/{r.GetProperty("seed").GetInt64()}").ToList());
        foreach (var run in runs)
        {
            Assert.AreEqual(20, run.GetProperty("n").GetInt32());
            foreach (string key in new[] { "accuracy", "feature_distance", "real_vs_real_floor", "forward_gflops" })
                Assert.IsTrue(double.IsFinite(run.GetProperty(key).GetDouble()), $"{key} is not finite: {run}");
        }
        Assert.AreEqual(6, runs[0].GetProperty("steps").GetInt32());
        int patchSteps = runs[2].GetProperty("steps").GetInt32();
        Assert.IsLessThan(6, patchSteps, "the smaller patch costs more per step, so equal compute gives it fewer steps");
        double baselineCompute = 6 * runs[0].GetProperty("forward_gflops").GetDouble(), patchCompute = patchSteps * runs[2].GetProperty("forward_gflops").GetDouble();
        Assert.IsLessThan(0.3, Math.Abs(patchCompute / baselineCompute - 1), $"compute {patchCompute} vs {baselineCompute} GFLOPs x steps");
        Assert.AreNotEqual(runs[0].GetProperty("feature_distance").GetDouble(), runs[1].GetProperty("feature_distance").GetDouble(), "two seeds gave identical runs");

        string table = File.ReadAllText(Path.Combine(output, "ablation.md"));
        StringAssert.Contains(table, "| baseline |");
        StringAssert.Contains(table, "| smaller-patch |");
        StringAssert.Contains(log, "| judge accuracy, mean (range) |", "the table is printed too");
        SampleOutputs.AssertPng(Path.Combine(output, "ablation.png"), 800, 400, log);
    }

    [TestMethod]
    public void AblateRefusesUnknownVariantsAndBadCounts()
    {
        var (exit, log) = CliProcess.Run("ablate", "--variants", "baseline,no-such", "--output", Path.GetTempPath());
        Assert.AreEqual(1, exit, log);
        StringAssert.Contains(log, "Unknown --variants no-such; known: baseline, no-skip");

        (exit, log) = CliProcess.Run("ablate", "--per-class", "101", "--output", Path.GetTempPath());
        Assert.AreEqual(1, exit, log);
        StringAssert.Contains(log, "--per-class must lie in 1-100; got 101");
    }
}
