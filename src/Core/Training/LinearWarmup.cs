namespace UViT.MLNet.Core.Training;

/// <summary>
/// The official learning-rate schedule: lr * min(step / warmup, 1), where step counts the optimiser steps already taken,
/// so the very first update runs at lr 0 (the scheduler is stepped after the optimiser, as in the official train loop).
/// </summary>
public static class LinearWarmup
{
    /// <summary>Learning rate for the optimiser step that follows <paramref name="stepsTaken"/> earlier steps.</summary>
    public static double LearningRate(double peak, long stepsTaken, int warmupSteps) =>
        warmupSteps <= 0 ? peak : peak * Math.Min((double)stepsTaken / warmupSteps, 1.0);
}
