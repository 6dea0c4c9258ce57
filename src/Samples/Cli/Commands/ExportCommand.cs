using System.CommandLine;
using Microsoft.ML;
using UViT.MLNet.Transforms.Interop;
using UViT.MLNet.Transforms.Persistence;

namespace UViT.MLNet.Cli.Commands;

/// <summary>
/// <c>uvit export MODEL.zip --output DIR</c>: the model's U-ViT as the official code's nnet.pth / nnet_ema.pth (torch.save, official
/// keys) with config.json and nnet_config.py (the official config values and training script), to continue on many GPUs with it.
/// </summary>
internal static class ExportCommand
{
    public static Command Create()
    {
        var model = new Argument<FileInfo>("model") { Description = "A model.zip written by `uvit train`, `uvit import` or mlContext.Model.Save." };
        var output = new Option<string>("--output", "-o") { Description = "The folder to write nnet.pth, nnet_ema.pth, config.json and nnet_config.py into.", Required = true };
        var command = new Command("export", "Write a model zip's U-ViT as official U-ViT checkpoints (nnet.pth, nnet_ema.pth) with the official config values.") { model, output };
        command.SetAction(parse => CliErrors.Run(() =>
        {
            var mlContext = new MLContext(seed: 0).RegisterUViT();
            var loaded = mlContext.LoadChecked(parse.GetValue(model)!.FullName, out _);
            string folder = Path.GetFullPath(parse.GetValue(output)!);
            var handOff = OfficialExport.Write(loaded, folder);
            Console.WriteLine($"wrote {OfficialExport.RawFile} (raw weights), {OfficialExport.EmaFile} (EMA weights), {OfficialExport.ConfigFile} and {OfficialExport.SnippetFile} to {folder}");
            Console.WriteLine($"official network: {handOff.Nnet["name"]}" + (handOff.Preset is { } preset ? $" (the architecture of {preset})" : " (no official preset has this architecture)"));
            Console.WriteLine(handOff.TrainScript is { } script
                ? $"official training script: {script} ({handOff.Schedule} schedule); recipe: {handOff.Recipe.Source}"
                : $"official training script: none for this model ({handOff.Schedule} schedule)");
            foreach (string note in handOff.Notes) Console.WriteLine("note: " + note);
            return 0;
        }));
        return command;
    }
}
