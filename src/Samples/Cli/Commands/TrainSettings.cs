namespace UViT.MLNet.Cli.Commands;

/// <summary>The checks <c>uvit train</c> makes before it loads data or builds a network, so a bad setting costs no training time.</summary>
internal static class TrainSettings
{
    /// <summary>Throws an <see cref="ArgumentException"/> naming the first option out of range.</summary>
    public static void Check(int steps, int batch, double? minutes, int? threads, int checkpointEvery, int perClass, int imageSize, int? workers = null)
    {
        Require(steps >= 1, $"--steps must be at least 1; got {steps}.");
        Require(batch >= 1, $"--batch-size must be at least 1; got {batch}.");
        Require(minutes is null || (double.IsFinite(minutes.Value) && minutes > 0), $"--minutes must be a positive number; got {minutes}.");
        LibTorchThreads.Validate(threads);
        Require(checkpointEvery >= 1, $"--checkpoint-every must be at least 1; got {checkpointEvery}.");
        Require(perClass >= 1, $"--per-class must be at least 1; got {perClass}.");
        Require(imageSize is >= 2 and <= 4096, $"--image-size must lie in [2, 4096]; got {imageSize}.");
        Require(workers is null or >= 1, $"--workers must be at least 1; got {workers}.");
    }

    /// <summary>
    /// Refuses to start a new run over an earlier run's checkpoint: without <c>--resume</c> (continue it) or <c>--force</c>
    /// (replace it) the earlier run's training would be lost silently.
    /// </summary>
    public static void RefuseToReplaceRun(string checkpointFolder, bool resume, bool force)
    {
        if (resume || force) return;
        string latest = Path.Combine(checkpointFolder, "latest.ckpt");
        if (File.Exists(latest))
            throw new ArgumentException($"'{latest}' holds an earlier run's checkpoint: pass --resume to continue it, --force to start over " +
                                        "(replacing it), or choose another --output folder.");
    }

    private static void Require(bool ok, string message)
    {
        if (!ok) throw new ArgumentException(message);
    }
}
