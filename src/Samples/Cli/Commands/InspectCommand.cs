using System.CommandLine;
using UViT.MLNet.Core.Autoencoder;
using UViT.MLNet.Core.Checkpoints;
using UViT.MLNet.Core.Networks;

namespace UViT.MLNet.Cli.Commands;

/// <summary><c>uvit inspect FILE</c>: format, tensor count, parameter count, dtypes and the official U-ViT preset or the
/// KL autoencoder architecture a checkpoint matches.</summary>
internal static class InspectCommand
{
    public static Command Create()
    {
        var file = new Argument<FileInfo>("checkpoint") { Description = "A .safetensors file or a torch.save .pth/.pt state dict." };
        var keys = new Option<bool>("--keys") { Description = "List every key with its dtype and shape." };
        var command = new Command("inspect", "Show what a checkpoint holds and which official U-ViT preset or autoencoder config it matches.") { file, keys };
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
                if (format == StateDictFormat.Safetensors)
                {
                    foreach (var (key, value) in StateDictFile.ReadSafetensorsMetadata(path)) Console.WriteLine($"metadata:   {key} = {value.ReplaceLineEndings(" ")}");
                }
                var matches = UViTPresets.MatchStateDict(state.ToDictionary(kv => kv.Key, kv => kv.Value.shape));
                if (AutoencoderConfigInference.Infer(state) is { } autoencoder) PrintAutoencoder(autoencoder);
                else Console.WriteLine(matches.Count == 0
                    ? "preset:     none of the official U-ViT presets (keys or shapes differ), and not a KL autoencoder"
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

    private static void PrintAutoencoder(InferredAutoencoder found)
    {
        var c = found.Config;
        Console.WriteLine($"model:      KL autoencoder ({found.Layout} layout, {found.ParameterCount:N0} autoencoder parameters)");
        Console.WriteLine($"config:     ch {c.Ch}, ch_mult [{string.Join(", ", c.ChMult)}], {c.NumResBlocks} res block(s), z {c.ZChannels}, embed_dim {c.EmbedDim}, " +
                          $"{c.InChannels} -> {c.OutChannels} channels, downsample x{c.DownsampleFactor}" +
                          (c.AttnResolutions.Count > 0 ? $", level attention at [{string.Join(", ", c.AttnResolutions)}] (assuming resolution {c.Resolution})" : ""));
        Console.WriteLine(found.IsStableDiffusionKLF8
            ? "preset:     Stable Diffusion KL-f8 (U-ViT's latent models): scale factor 0.18215, or 0.23010 for the MS-COCO models"
            : "preset:     not KL-f8; pass this config to EncodeLatents/DecodeLatents (the scale factor is not stored in the file)");
    }
}
