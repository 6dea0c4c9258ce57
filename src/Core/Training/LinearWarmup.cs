namespace UViT.MLNet.Core.Training;

/// <summary>
/// The learning-rate schedule: the official linear warm-up, lr * min(step / warmup, 1), where step counts the optimiser steps
/// already taken, so the very first update runs at lr 0 (the scheduler is stepped after the optimiser, as in the official
/// train loop); optionally followed by a cosine decay to 0 at the run's last step (a short-run setting, not official).
/// </summary>
public static class LinearWarmup
{
    /// <summary>Learning rate for the optimiser step that follows <paramref name="stepsTaken"/> earlier steps (warm-up only).</summary>
    public static double LearningRate(double peak, long stepsTaken, int warmupSteps) =>
        warmupSteps <= 0 ? peak : peak * Math.Min((double)stepsTaken / warmupSteps, 1.0);

    /// <summary>
    /// Learning rate after warm-up and, with <paramref name="cosineDecay"/>, a half cosine from the peak at the end of warm-up
    /// to 0 at <paramref name="totalSteps"/>: peak * (1 + cos(pi * p)) / 2 with p = (step - warmup) / (total - warmup).
    /// </summary>
    public static double LearningRate(double peak, long stepsTaken, int warmupSteps, bool cosineDecay, long totalSteps)
    {
        double warm = LearningRate(peak, stepsTaken, warmupSteps);
        if (!cosineDecay || stepsTaken <= warmupSteps) return warm;
        double progress = Math.Clamp((double)(stepsTaken - warmupSteps) / Math.Max(1, totalSteps - warmupSteps), 0, 1);
        return warm * 0.5 * (1 + Math.Cos(Math.PI * progress));
    }
}
