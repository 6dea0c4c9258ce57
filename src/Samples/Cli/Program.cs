// `uvit`: the UViT.MLNet command-line tool. Each verb lives in Commands/; exit codes: 0 success, 1 bad input or usage error.
using System.CommandLine;
using UViT.MLNet.Cli.Commands;

var root = new RootCommand("UViT.MLNet: U-ViT diffusion models (Bao et al., CVPR 2023) for .NET on TorchSharp and ML.NET.");
root.Subcommands.Add(TrainCommand.Create());
root.Subcommands.Add(SampleCommand.Create());
root.Subcommands.Add(ShapesCommand.Create());
root.Subcommands.Add(BenchCommand.Create());
root.Subcommands.Add(PresetsCommand.Create());
root.Subcommands.Add(InspectCommand.Create());
root.Subcommands.Add(ConvertCommand.Create());
root.Subcommands.Add(FidCommand.Create());
return root.Parse(args).Invoke();
