using System.CommandLine;
using UViT.MLNet.Core.Networks;
using static TorchSharp.torch;

namespace UViT.MLNet.Cli.Commands;

/// <summary><c>uvit presets</c>: the official U-ViT configurations, with parameter counts of the networks as built here.</summary>
internal static class PresetsCommand
{
    public static Command Create()
    {
        var command = new Command("presets", "List the ten official U-ViT configurations and their parameter counts (built without allocating weights).");
        command.SetAction(_ => CliErrors.Run(() =>
        {
            Console.WriteLine($"{"name",-24} {"paper name",-16} {"dataset",-13} {"input",-9} {"P",2} {"D",5} {"depth",5} {"heads",5} {"condition",-12} {"params",13}");
            foreach (var preset in UViTPresets.All)
            {
                var c = preset.Config;
                using var model = new UViTNetwork(c, device: META);
                string condition = c.Conditioning switch
                {
                    UViTConditioning.ClassLabel => $"{c.NumClasses} classes",
                    UViTConditioning.TextContext => $"{c.NumClipTokens}x{c.ClipDim} text",
                    _ => "none",
                };
                Console.WriteLine($"{preset.Name,-24} {preset.PaperName,-16} {preset.Dataset,-13} {$"{c.InChannels}x{c.ImageSize}x{c.ImageSize}",-9} {c.PatchSize,2} {c.EmbedDim,5} {c.Depth,5} {c.NumHeads,5} {condition,-12} {model.ParameterCount,13:N0}");
            }
            return 0;
        }));
        return command;
    }
}
