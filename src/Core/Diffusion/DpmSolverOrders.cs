// The order schedule of DPM-Solver's single-step "fast" mode (Lu et al. 2022; official dpm_solver_pytorch.py
// `get_time_steps_for_dpm_solver_fast` and libs/dpm_solver_pp.py `get_orders_and_timesteps_for_singlestep_solver`,
// github baofff/U-ViT): spend exactly `steps` model evaluations, mostly in third-order steps.
namespace UViT.MLNet.Core.Diffusion;

/// <summary>Orders of the single-step DPM-Solver steps for a budget of model evaluations.</summary>
public static class DpmSolverOrders
{
    /// <summary>
    /// With K = steps / 3 + 1: [3]*(K-2) + [2, 1] when steps % 3 == 0, [3]*(K-1) + [1] when steps % 3 == 1,
    /// [3]*(K-1) + [2] when steps % 3 == 2. The orders sum to <paramref name="steps"/>.
    /// </summary>
    public static int[] ForSteps(int steps)
    {
        if (steps < 1) throw new ArgumentOutOfRangeException(nameof(steps), $"steps must be at least 1; got {steps}.");
        int k = steps / 3 + 1;
        return (steps % 3) switch
        {
            0 => [.. Enumerable.Repeat(3, k - 2), 2, 1],
            1 => [.. Enumerable.Repeat(3, k - 1), 1],
            _ => [.. Enumerable.Repeat(3, k - 1), 2],
        };
    }
}
