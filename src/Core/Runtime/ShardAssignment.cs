// Which slice of a long generation job one process does: shard K of N takes the request rows i with i mod N == K. The index
// comes from --shard K/N or from the job engine that started the process (Kubernetes Indexed Jobs, Slurm job arrays), so one
// command line serves every task of an array. Azure Batch is left out: AZ_BATCH_TASK_ID is a free-form task name with no
// index or count behind it (tasks are added one by one), so it cannot name a shard; pass --shard there.
using System.Globalization;

namespace UViT.MLNet.Core.Runtime;

/// <summary>Shard <see cref="Index"/> of <see cref="Count"/>: owns the rows i with i mod Count == Index.</summary>
public readonly record struct ShardAssignment
{
    /// <summary>Kubernetes Indexed Job: the pod's completion index 0..completions-1 (the count is not in the environment).</summary>
    public const string KubernetesIndex = "JOB_COMPLETION_INDEX";
    /// <summary>Slurm job array: this task's id, the array's task count and its smallest id.</summary>
    public const string SlurmTaskId = "SLURM_ARRAY_TASK_ID", SlurmTaskCount = "SLURM_ARRAY_TASK_COUNT", SlurmTaskMin = "SLURM_ARRAY_TASK_MIN", SlurmTaskStep = "SLURM_ARRAY_TASK_STEP";

    /// <summary>A shard; <paramref name="index"/> must lie in [0, <paramref name="count"/>).</summary>
    public ShardAssignment(int index, int count)
    {
        if (count < 1) throw new ArgumentException($"A shard count must be at least 1; got {count}.");
        if (index < 0 || index >= count) throw new ArgumentException($"Shard index {index} does not lie in [0, {count - 1}] for {count} shards.");
        Index = index;
        Count = count;
    }

    /// <summary>0-based shard index.</summary>
    public int Index { get; }

    /// <summary>Number of shards.</summary>
    public int Count { get; }

    /// <summary>The whole job in one process (0/1).</summary>
    public static ShardAssignment Whole => new(0, 1);

    /// <summary>Whether row <paramref name="row"/> of the full request list belongs to this shard.</summary>
    public bool Owns(long row) => row % Count == Index;

    public override string ToString() => $"{Index}/{Count}";

    /// <summary>"K/N" as written on the command line.</summary>
    /// <exception cref="ArgumentException">Not two integers with 0 &lt;= K &lt; N.</exception>
    public static ShardAssignment Parse(string text)
    {
        var parts = (text ?? "").Split('/');
        if (parts.Length != 2 || !TryInt(parts[0], out int index) || !TryInt(parts[1], out int count))
            throw new ArgumentException($"--shard '{text}': expected K/N, e.g. 0/4 for the first of four shards.");
        if (count < 1 || index < 0 || index >= count)
            throw new ArgumentException($"--shard '{text}': K must lie in [0, N-1] and N be at least 1.");
        return new ShardAssignment(index, count);
    }

    /// <summary>
    /// The shard of this process: <paramref name="shard"/> ("K/N") if given, else the job engine's variables
    /// (<see cref="KubernetesIndex"/> with <paramref name="shards"/> as the count; the Slurm array variables), else the whole job.
    /// Returns the assignment and where it came from, for the log.
    /// </summary>
    /// <param name="environment">Reads a variable (null when unset); <c>Environment.GetEnvironmentVariable</c> in the CLI.</param>
    /// <exception cref="ArgumentException">Malformed or inconsistent values, with the variable named.</exception>
    public static (ShardAssignment Shard, string Source) Resolve(string? shard, int? shards, Func<string, string?> environment)
    {
        ArgumentNullException.ThrowIfNull(environment);
        if (shards is < 1) throw new ArgumentException($"--shards must be at least 1; got {shards}.");
        if (shard is not null)
        {
            var given = Parse(shard);
            if (shards is int n && n != given.Count) throw new ArgumentException($"--shard {shard} and --shards {n} disagree on the shard count.");
            return (given, "--shard");
        }
        if (environment(KubernetesIndex) is { } k8s)
        {
            int count = shards ?? throw new ArgumentException($"{KubernetesIndex}={k8s} is set (Kubernetes Indexed Job) but the shard count is not: pass --shards N, the Job's completions.");
            int index = Int(KubernetesIndex, k8s);
            if (index < 0 || index >= count) throw new ArgumentException($"{KubernetesIndex}={k8s} does not lie in [0, {count - 1}] for --shards {count}.");
            return (new ShardAssignment(index, count), $"{KubernetesIndex} with --shards");
        }
        if (environment(SlurmTaskId) is { } slurm)
        {
            int id = Int(SlurmTaskId, slurm);
            string countText = environment(SlurmTaskCount) ?? throw new ArgumentException($"{SlurmTaskId}={slurm} is set but {SlurmTaskCount} is not; is this a Slurm job array (sbatch --array)?");
            int count = Int(SlurmTaskCount, countText);
            if (count < 1) throw new ArgumentException($"{SlurmTaskCount}={countText} must be at least 1.");
            if (environment(SlurmTaskStep) is { } step && Int(SlurmTaskStep, step) != 1)
                throw new ArgumentException($"{SlurmTaskStep}={step}: shards need a contiguous array (--array=0-{count - 1}), not a stepped one.");
            int min = environment(SlurmTaskMin) is { } minText ? Int(SlurmTaskMin, minText) : 0;
            int index = id - min;
            if (index < 0 || index >= count)
                throw new ArgumentException($"{SlurmTaskId}={slurm} minus {SlurmTaskMin}={min} does not lie in [0, {count - 1}]: shards need a contiguous array (--array=0-{count - 1}).");
            if (shards is int n && n != count) throw new ArgumentException($"--shards {n} and {SlurmTaskCount}={count} disagree on the shard count.");
            return (new ShardAssignment(index, count), "the Slurm array variables");
        }
        if (shards is int alone && alone != 1)
            throw new ArgumentException($"--shards {alone} gives the count but nothing gives the index: pass --shard K/{alone}, or run as a Kubernetes Indexed Job ({KubernetesIndex}) or Slurm array.");
        return (Whole, "default (one process)");
    }

    private static bool TryInt(string text, out int value) => int.TryParse(text.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out value);

    private static int Int(string name, string text) =>
        int.TryParse(text.Trim(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int value) ? value
            : throw new ArgumentException($"{name}='{text}' is not an integer.");
}
