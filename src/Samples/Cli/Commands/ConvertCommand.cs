using System.CommandLine;
using UViT.MLNet.Core.Checkpoints;

namespace UViT.MLNet.Cli.Commands;

/// <summary><c>uvit convert IN OUT</c>: rewrites a torch.save (or safetensors) state dict as safetensors.</summary>
internal static class ConvertCommand
{
    public static Command Create()
    {
        var input = new Argument<FileInfo>("input") { Description = "A torch.save .pth/.pt (zip or legacy) or .safetensors state dict." };
        var output = new Argument<FileInfo>("output") { Description = "The .safetensors file to write (written atomically)." };
        var command = new Command("convert", "Convert a checkpoint to safetensors, keeping every key and dtype.") { input, output };
        command.SetAction(parse => CliErrors.Run(() =>
        {
            string from = parse.GetValue(input)!.FullName, to = parse.GetValue(output)!.FullName;
            var state = StateDictFile.Read(from);
            try
            {
                StateDictFile.WriteSafetensors(to, state);
                Console.WriteLine($"wrote {state.Count} tensors ({state.Values.Sum(t => t.numel()):N0} values) to {to}");
                return 0;
            }
            finally
            {
                foreach (var tensor in state.Values) tensor.Dispose();
            }
        }));
        return command;
    }
}
