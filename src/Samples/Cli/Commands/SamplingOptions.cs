using System.CommandLine;
using UViT.MLNet.Core.Generation;

namespace UViT.MLNet.Cli.Commands;

/// <summary>The sampling options shared by the training verbs and those that sample a saved model.</summary>
internal sealed class SamplingOptions
{
    private const string SamplerHelp = "DpmSolverPlusPlus, DpmSolver, EulerMaruyama or Ddim.";
    private const string StepsHelp = "Sampler steps (model evaluations for DPM-Solver).";
    private const string GuidanceHelp = "Classifier-free guidance as the U-ViT paper's extra weight s (eps_c + s (eps_c - eps_u)); diffusers' scale = 1 + s.";
    private const string DdimEtaHelp = "DDIM's eta (Ddim only): 0 is deterministic, 1 adds fresh noise each step and ends on the noise-free prediction as DDPM does, which cleans up what a briefly trained model leaves.";
    private const string ModelDefault = " (default: the model's)";
    private readonly Option<SamplerKind> _sampler;
    private readonly Option<int> _steps;
    private readonly Option<double> _guidance;
    private readonly Option<double> _ddimEta;
    private readonly Option<bool> _raw = new("--raw-weights") { Description = "Sample with the raw weights instead of the EMA weights." };

    private SamplingOptions(Option<SamplerKind> sampler, Option<int> steps, Option<double> guidance, Option<double> ddimEta) =>
        (_sampler, _steps, _guidance, _ddimEta) = (sampler, steps, guidance, ddimEta);

    /// <summary>Options for a model about to be trained: their defaults are saved in it.</summary>
    public static SamplingOptions Create(double defaultGuidance, int defaultSteps, SamplerKind defaultSampler = SamplerKind.DpmSolverPlusPlus, double defaultDdimEta = 0) => new(
        new("--sampler") { Description = SamplerHelp, DefaultValueFactory = _ => defaultSampler },
        new("--sample-steps") { Description = StepsHelp, DefaultValueFactory = _ => defaultSteps },
        new("--guidance") { Description = GuidanceHelp, DefaultValueFactory = _ => defaultGuidance },
        new("--ddim-eta") { Description = DdimEtaHelp, DefaultValueFactory = _ => defaultDdimEta });

    /// <summary>Options for a saved model: without them its saved settings apply (see <see cref="Override"/>).</summary>
    public static SamplingOptions ForSavedModel() => new(
        new("--sampler") { Description = SamplerHelp + ModelDefault },
        new("--sample-steps") { Description = StepsHelp + ModelDefault },
        new("--guidance") { Description = GuidanceHelp + ModelDefault },
        new("--ddim-eta") { Description = DdimEtaHelp + ModelDefault });

    public void AddTo(Command command)
    {
        command.Options.Add(_sampler);
        command.Options.Add(_steps);
        command.Options.Add(_guidance);
        command.Options.Add(_raw);
        command.Options.Add(_ddimEta);
    }

    public SamplerSettings Read(ParseResult parse) => new()
    {
        Sampler = parse.GetValue(_sampler),
        Steps = parse.GetValue(_steps),
        GuidanceScale = parse.GetValue(_guidance),
        UseEmaWeights = !parse.GetValue(_raw),
        DdimEta = parse.GetValue(_ddimEta),
    };

    /// <summary>Only the options the user typed, applied over <paramref name="current"/>.</summary>
    public SamplerSettings Override(ParseResult parse, SamplerSettings current) => current with
    {
        Sampler = parse.GetResult(_sampler) is { Implicit: false } ? parse.GetValue(_sampler) : current.Sampler,
        Steps = parse.GetResult(_steps) is { Implicit: false } ? parse.GetValue(_steps) : current.Steps,
        GuidanceScale = parse.GetResult(_guidance) is { Implicit: false } ? parse.GetValue(_guidance) : current.GuidanceScale,
        UseEmaWeights = !parse.GetValue(_raw) && current.UseEmaWeights,
        DdimEta = parse.GetResult(_ddimEta) is { Implicit: false } ? parse.GetValue(_ddimEta) : current.DdimEta,
    };
}
