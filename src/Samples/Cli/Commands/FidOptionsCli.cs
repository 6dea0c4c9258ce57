using System.CommandLine;
using UViT.MLNet.Transforms.Evaluation;

namespace UViT.MLNet.Cli.Commands;

/// <summary>The options every <c>fid</c> verb shares: Inception weights, device and batch size.</summary>
internal sealed class FidOptionsCli
{
    private readonly Option<FileInfo> _weights = new("--weights", "-w")
    {
        Description = "FID Inception weights: pt_inception-2015-12-05-6726825d.pth (legacy or zip torch.save) or a safetensors copy.",
        Required = true,
    };
    private readonly Option<string> _device = new("--device") { Description = "cpu, cuda or cuda:N (`fid model`: the model runs there too).", DefaultValueFactory = _ => "cpu" };
    private readonly Option<int> _batch = new("--inception-batch-size") { Description = "Images per Inception call.", DefaultValueFactory = _ => 50 };

    public void AddTo(Command command)
    {
        command.Options.Add(_weights);
        command.Options.Add(_device);
        command.Options.Add(_batch);
    }

    /// <summary>The parsed device (Inception's; <c>fid model</c> runs the model there too).</summary>
    public string Device(ParseResult parse) => parse.GetValue(_device)!;

    /// <summary>An evaluator with the parsed settings; <paramref name="options"/> supplies the rest (column, range, IS, settings).</summary>
    public FidEvaluator CreateEvaluator(ParseResult parse, FidOptions options) =>
        new(parse.GetValue(_weights)!.FullName, options with { Device = parse.GetValue(_device)!, BatchSize = parse.GetValue(_batch) });
}
