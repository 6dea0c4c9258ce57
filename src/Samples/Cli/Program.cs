// `uvit`: the UViT.MLNet command-line tool. Each verb lives in Commands/; exit codes (docs/cli.md): 0 success, 1 bad input,
// 2 usage error, 3 training diverged, 4 out of memory, 5 internal error.
using System.CommandLine;
using UViT.MLNet.Cli.Commands;

var verbose = new Option<bool>("--verbose") { Description = "Print the full exception (with stack trace) when a command fails.", Recursive = true };
var root = new RootCommand("UViT.MLNet: U-ViT diffusion models (Bao et al., CVPR 2023) for .NET on TorchSharp and ML.NET.") { verbose };
root.Subcommands.Add(TrainCommand.Create());
root.Subcommands.Add(SampleCommand.Create());
root.Subcommands.Add(ShapesCommand.Create());
root.Subcommands.Add(BenchCommand.Create());
root.Subcommands.Add(PresetsCommand.Create());
root.Subcommands.Add(InspectCommand.Create());
root.Subcommands.Add(ConvertCommand.Create());
root.Subcommands.Add(ExportCommand.Create());
root.Subcommands.Add(ImportCommand.Create());
root.Subcommands.Add(FidCommand.Create());
root.Subcommands.Add(JudgeCommand.Create());
root.Subcommands.Add(AblateCommand.Create());
var parse = root.Parse(args);
CliErrors.Verbose = parse.GetValue(verbose);
int exit = parse.Invoke();                                   // parse errors: System.CommandLine prints them with the help
return parse.Errors.Count > 0 ? CliErrors.UsageError : exit;
