using System.CommandLine;
using UViT.MLNet.Core.Checkpoints;
using UViT.MLNet.Core.Networks;

namespace UViT.MLNet.Cli.Commands;

/// <summary><c>uvit inspect FILE</c>: format, tensor count, parameter count, dtypes and the official preset a checkpoint matches.</summary>
internal static class InspectCommand
{
    public static Command Create()
    {
        var file = new Argument<FileInfo>("checkpoint") { Description = "A .safetensors file or a torch.save .pth/.pt state dict." };
        var keys = new Option<bool>("--keys") { Description = "List every key with its dtype and shape." };
        var command = new Command("inspect", "Show what a checkpoint holds and which official U-ViT preset it matches.") { file, keys };
        command.SetAction(parse => CliErrors.Run(() =>
        {
            string path = parse.GetValue(file)!.FullName;
            var format = StateDictFile.Detect(path);
            var state = StateDictFile.Read(path);
            try
            {
                long parameters = state.Values.Sum(t => t.numel());
                Console.WriteLine($"file:       {path}");
                Console.WriteLine($"format:     {format}");
                Console.WriteLine($"tensors:    {state.Count}");
                Console.WriteLine($"parameters: {parameters:N0}");
                Console.WriteLine($"dtypes:     {string.Join(", ", state.Values.GroupBy(t => t.dtype).Select(g => $"{g.Key} x{g.Count()}"))}");
                var matches = UViTPresets.MatchStateDict(state.ToDictionary(kv => kv.Key, kv => kv.Value.shape));
                Console.WriteLine(matches.Count == 0
                    ? "preset:     none of the official U-ViT presets (keys or shapes differ)"
                    : "preset:     " + string.Join(" or ", matches.Select(p => $"{p.Name} ({p.QualifiedPaperName})")));
                if (parse.GetValue(keys))
                {
                    foreach (var (key, tensor) in state) Console.WriteLine($"  {key,-48} {tensor.dtype,-9} [{string.Join(", ", tensor.shape)}]");
                }
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
