using System.CommandLine;
using Microsoft.ML;
using UViT.MLNet.Core.Training;
using UViT.MLNet.Transforms.Interop;
using UViT.MLNet.Transforms.Persistence;

namespace UViT.MLNet.Cli.Commands;

/// <summary>
/// <c>uvit import CHECKPOINT --output model.zip</c>: official U-ViT weights (a release file, an official run's nnet_ema.pth and
/// nnet.pth, or a folder holding them) back into a model zip that <c>uvit sample</c> generates from. The network comes from
/// config.json (<c>uvit export</c>), a preset, or the checkpoint's shapes; every key is checked strictly.
/// </summary>
internal static class ImportCommand
{
    public static Command Create()
    {
        var checkpoint = new Argument<FileInfo>("checkpoint") { Description = "The weights to sample with (nnet_ema.pth or an official release .pth/.safetensors), or a folder holding nnet_ema.pth [and nnet.pth, config.json]." };
        var raw = new Option<FileInfo?>("--raw") { Description = "The raw (non-EMA) weights, e.g. nnet.pth (default: the folder's nnet.pth, else the EMA weights serve as both)." };
        var output = new Option<string>("--output", "-o") { Description = "The model zip to write (atomically).", Required = true };
        var config = new Option<FileInfo?>("--config") { Description = "config.json written by `uvit export` (default: the folder's): network, schedule, classes and sampling exactly as exported." };
        var preset = new Option<string?>("--preset") { Description = "An official preset (`uvit presets`) for the network, schedule and official sampling; default: the preset whose layout the checkpoint has." };
        var heads = new Option<int?>("--num-heads") { Description = "Attention heads, for a checkpoint that matches no preset and comes without config.json (no shape records them)." };
        var schedule = new Option<NoiseScheduleKind?>("--schedule") { Description = "ContinuousVP or DiscreteSD, with --num-heads." };
        var nullClass = new Option<long?>("--null-class") { Description = "The null (unconditional) class of a guided class model, with --num-heads." };
        var autoencoder = new Option<FileInfo?>("--autoencoder") { Description = "Latent models: the KL autoencoder (official assets/stable-diffusion/autoencoder_kl.pth or safetensors)." };
        var sampling = SamplingOptions.ForSavedModel();
        var command = new Command("import", "Turn official U-ViT checkpoints (release files or an official training run's nnet_ema.pth / nnet.pth) into a model zip.")
        {
            checkpoint, raw, output, config, preset, heads, schedule, nullClass, autoencoder,
        };
        sampling.AddTo(command);
        command.SetAction(parse => CliErrors.Run(() =>
        {
            string given = parse.GetValue(checkpoint)!.FullName;
            bool folder = Directory.Exists(given);
            string ema = folder ? Path.Combine(given, OfficialExport.EmaFile) : given;
            string? rawPath = parse.GetValue(raw)?.FullName ?? (folder && File.Exists(Path.Combine(given, OfficialExport.RawFile)) ? Path.Combine(given, OfficialExport.RawFile) : null);
            string? configPath = parse.GetValue(config)?.FullName ?? (folder && File.Exists(Path.Combine(given, OfficialExport.ConfigFile)) ? Path.Combine(given, OfficialExport.ConfigFile) : null);
            if (!File.Exists(ema)) throw new ArgumentException($"Checkpoint '{ema}' does not exist.");
            if (parse.GetValue(preset) is not null && parse.GetValue(config) is not null) throw new ArgumentException("Give --config or --preset, not both.");
            bool byShapes = parse.GetValue(heads) is not null || parse.GetValue(schedule) is not null || parse.GetValue(nullClass) is not null;
            if (byShapes && (configPath is not null || parse.GetValue(preset) is not null))
                throw new ArgumentException("--num-heads, --schedule and --null-class describe a checkpoint without config.json or preset; they cannot be combined with them.");
            var spec = parse.GetValue(preset) is { } name ? OfficialModelSpec.FromPreset(Core.Networks.UViTPresets.Get(name))
                : configPath is not null ? OfficialModelSpec.FromHandOff(OfficialHandOff.Read(configPath), configPath)
                : OfficialModelSpec.FromShapes(ema, parse.GetValue(heads), parse.GetValue(schedule), parse.GetValue(nullClass));
            spec = spec with { Sampling = sampling.Override(parse, spec.Sampling) };

            var mlContext = new MLContext(seed: 0).RegisterUViT();
            var model = OfficialImport.Build(mlContext, spec, ema, rawPath, parse.GetValue(autoencoder)?.FullName, out var inputSchema);
            try
            {
                string target = Path.GetFullPath(parse.GetValue(output)!);
                mlContext.Model.SaveAtomically(model, inputSchema, target);
                Console.WriteLine($"wrote {target}: {spec.Network.Conditioning} U-ViT ({spec.Source}), {spec.Schedule}, EMA weights from {ema}, " +
                                  $"raw weights from {rawPath ?? "the same file"}{(spec.IsLatent ? $", latents decoded with {parse.GetValue(autoencoder)!.FullName}" : "")}");
                return 0;
            }
            finally
            {
                foreach (var stage in model is IEnumerable<ITransformer> chain ? chain : [model]) (stage as IDisposable)?.Dispose();
            }
        }));
        return command;
    }
}
