// How the official training draws a noise level per sample (reference.md section 3): continuous VP (sde.py `VPSDE.sample`)
// t ~ U[0, 1), network time 999 t; discrete SD (train_ldm_discrete.py `Schedule.sample`) n ~ U{1..N}, network time n.
using UViT.MLNet.Core.Runtime;
using static TorchSharp.torch;

namespace UViT.MLNet.Core.Diffusion;

/// <summary>Per-sample noise levels of one training batch: x_t = alpha x_0 + sigma eps, fed to the network at NetworkTime.</summary>
/// <param name="NetworkTime">[B] the network's time input (999 t, or the 1-based step n as float).</param>
/// <param name="Alpha">[B] sqrt(alpha_bar).</param>
/// <param name="Sigma">[B] sqrt(1 - alpha_bar).</param>
public sealed record TrainingNoiseLevel(Tensor NetworkTime, Tensor Alpha, Tensor Sigma) : IDisposable
{
    /// <summary>Draws levels for <paramref name="batch"/> samples under <paramref name="schedule"/>.</summary>
    /// <param name="generator">Random source (default: torch's global generator).</param>
    public static TrainingNoiseLevel Draw(NoiseSchedule schedule, long batch, Device device, Generator? generator = null)
    {
        using var scope = NewDisposeScope();
        TrainingNoiseLevel level = schedule switch
        {
            ContinuousVPSchedule continuous => Continuous(continuous, batch, device, generator),
            DiscreteSDSchedule discrete => Discrete(discrete, batch, device, generator),
            _ => throw new NotSupportedException($"No training noise levels for {schedule.GetType().Name}."),
        };
        level.NetworkTime.MoveToOuterDisposeScope();
        level.Alpha.MoveToOuterDisposeScope();
        level.Sigma.MoveToOuterDisposeScope();
        return level;
    }

    private static TrainingNoiseLevel Continuous(ContinuousVPSchedule schedule, long batch, Device device, Generator? generator)
    {
        var t = rand(batch, dtype: ScalarType.Float32, generator: generator).to(device);   // [B] U[0, 1)
        var alphaBar = schedule.AlphaBar(t);                                                // [B]
        return new TrainingNoiseLevel(schedule.NetworkTime(t), alphaBar.sqrt(), alphaBar.SubtractedFrom(1.0).sqrt()); // sde.py: cum_alpha ** 0.5, cum_beta ** 0.5
    }

    private static TrainingNoiseLevel Discrete(DiscreteSDSchedule schedule, long batch, Device device, Generator? generator)
    {
        var n = randint(1, schedule.StepCount + 1, [batch], dtype: ScalarType.Int64, generator: generator);  // [B] 1..N
        var alphaBar = schedule.AlphaBarTable().index_select(0, n.Minus(1));                                  // [B] float64
        return new TrainingNoiseLevel(
            n.to(ScalarType.Float32).to(device),                                  // [B]
            alphaBar.sqrt().to(ScalarType.Float32).to(device),                    // [B] float64 sqrt, then float32 (official)
            alphaBar.SubtractedFrom(1.0).sqrt().to(ScalarType.Float32).to(device)); // [B]
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        NetworkTime.Dispose();
        Alpha.Dispose();
        Sigma.Dispose();
    }
}
