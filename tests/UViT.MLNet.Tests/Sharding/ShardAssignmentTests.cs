// How a process finds its shard: --shard K/N, a Kubernetes Indexed Job's JOB_COMPLETION_INDEX with --shards N, or a Slurm
// array's task id, count and minimum; bad or inconsistent values are refused with the variable named.
using UViT.MLNet.Core.Runtime;

namespace UViT.MLNet.Tests.Sharding;

[TestClass]
public sealed class ShardAssignmentTests
{
    private static Func<string, string?> Env(params (string Name, string Value)[] variables) =>
        name => variables.FirstOrDefault(v => v.Name == name).Value;

    [TestMethod]
    public void ExplicitShardWinsAndOwnsEveryNthRow()
    {
        var (shard, source) = ShardAssignment.Resolve("2/3", null, Env((ShardAssignment.SlurmTaskId, "0"), (ShardAssignment.SlurmTaskCount, "5")));
        Assert.AreEqual(new ShardAssignment(2, 3), shard);
        StringAssert.Contains(source, "--shard");
        CollectionAssert.AreEqual(new long[] { 2, 5, 8 }, Enumerable.Range(0, 10).Select(i => (long)i).Where(shard.Owns).ToArray());
        Assert.AreEqual(ShardAssignment.Whole, ShardAssignment.Resolve(null, null, Env()).Shard);
    }

    [TestMethod]
    public void KubernetesIndexNeedsTheCountFromShards()
    {
        Assert.AreEqual(new ShardAssignment(3, 4), ShardAssignment.Resolve(null, 4, Env((ShardAssignment.KubernetesIndex, "3"))).Shard);
        StringAssert.Contains(Refused(null, null, (ShardAssignment.KubernetesIndex, "3")), "--shards");
        StringAssert.Contains(Refused(null, 4, (ShardAssignment.KubernetesIndex, "4")), "JOB_COMPLETION_INDEX=4");
        StringAssert.Contains(Refused(null, 4, (ShardAssignment.KubernetesIndex, "x")), "not an integer");
    }

    [TestMethod]
    public void SlurmArraySubtractsTheMinimum()
    {
        Assert.AreEqual(new ShardAssignment(1, 3), ShardAssignment.Resolve(null, null,
            Env((ShardAssignment.SlurmTaskId, "1"), (ShardAssignment.SlurmTaskCount, "3"))).Shard);
        Assert.AreEqual(new ShardAssignment(2, 3), ShardAssignment.Resolve(null, 3,
            Env((ShardAssignment.SlurmTaskId, "7"), (ShardAssignment.SlurmTaskCount, "3"), (ShardAssignment.SlurmTaskMin, "5"), (ShardAssignment.SlurmTaskStep, "1"))).Shard);
        StringAssert.Contains(Refused(null, null, (ShardAssignment.SlurmTaskId, "1")), "SLURM_ARRAY_TASK_COUNT");
        StringAssert.Contains(Refused(null, null, (ShardAssignment.SlurmTaskId, "4"), (ShardAssignment.SlurmTaskCount, "3"), (ShardAssignment.SlurmTaskStep, "2")), "contiguous");
        StringAssert.Contains(Refused(null, null, (ShardAssignment.SlurmTaskId, "9"), (ShardAssignment.SlurmTaskCount, "3")), "contiguous");
        StringAssert.Contains(Refused(null, 4, (ShardAssignment.SlurmTaskId, "0"), (ShardAssignment.SlurmTaskCount, "3")), "disagree");
    }

    [TestMethod]
    public void BadShardTextIsRefused()
    {
        foreach (string bad in new[] { "3/3", "1", "a/2", "-1/2", "0/0", "1/2/3" })
            StringAssert.Contains(Refused(bad, null), "--shard", bad);
        StringAssert.Contains(Refused("0/2", 3), "disagree");
        StringAssert.Contains(Refused(null, 3), "index");
    }

    private static string Refused(string? shard, int? shards, params (string, string)[] variables) =>
        Assert.ThrowsExactly<ArgumentException>(() => ShardAssignment.Resolve(shard, shards, Env(variables))).Message;
}
