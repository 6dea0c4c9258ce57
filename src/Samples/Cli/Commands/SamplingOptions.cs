using System.CommandLine;
using UViT.MLNet.Core.Generation;

namespace UViT.MLNet.Cli.Commands;

/// <summary>The sampling options shared by <c>train</c> and <c>sample</c>.</summary>
internal sealed class SamplingOptions
{
    private readonly Option<SamplerKind> _sampler = new("--sampler") { Description = "DpmSolverPlusPlus, DpmSolver, EulerMaruyama or Ddim.", DefaultValueFactory = _ => SamplerKind.DpmSolverPlusPlus };
    private readonly Option<int> _steps;
    private readonly Option<double> _guidance;
    private readonly Option<bool> _raw = new("--raw-weights") { Description = "Sample with the raw weights instead of the EMA weights." };

    private SamplingOptions(double defaultGuidance, int defaultSteps)
    {
        _steps = new Option<int>("--sample-steps") { Description = "Sampler steps (model evaluations for DPM-Solver).", DefaultValueFactory = _ => defaultSteps };
        _guidance = new Option<double>("--guidance") { Description = "Classifier-free guidance as the U-ViT paper's extra weight s (eps_c + s (eps_c - eps_u)); diffusers' scale = 1 + s.", DefaultValueFactory = _ => defaultGuidance };
    }

    public static SamplingOptions Create(double defaultGuidance, int defaultSteps) => new(defaultGuidance, defaultSteps);

    public void AddTo(Command command)
    {
        command.Options.Add(_sampler);
        command.Options.Add(_steps);
        command.Options.Add(_guidance);
        command.Options.Add(_raw);
    }

    public SamplerSettings Read(ParseResult parse) => new()
    {
        Sampler = parse.GetValue(_sampler),
        Steps = parse.GetValue(_steps),
        GuidanceScale = parse.GetValue(_guidance),
        UseEmaWeights = !parse.GetValue(_raw),
    };

    /// <summary>Only the options the user typed, applied over <paramref name="current"/>.</summary>
    public SamplerSettings Override(ParseResult parse, SamplerSettings current) => current with
    {
        Sampler = parse.GetResult(_sampler) is { Implicit: false } ? parse.GetValue(_sampler) : current.Sampler,
        Steps = parse.GetResult(_steps) is { Implicit: false } ? parse.GetValue(_steps) : current.Steps,
        GuidanceScale = parse.GetResult(_guidance) is { Implicit: false } ? parse.GetValue(_guidance) : current.GuidanceScale,
        UseEmaWeights = !parse.GetValue(_raw) && current.UseEmaWeights,
    };
}
