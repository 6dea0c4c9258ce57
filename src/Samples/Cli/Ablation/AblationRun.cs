// One run of `uvit ablate`: trains a variant on the shipped MNIST digits with the short-run recipe of `uvit train` (through
// the ML.NET pipeline, as `uvit train` does), then generates digits of every class and has the digit judge read them.
using System.Diagnostics;
using Microsoft.ML;
using UViT.MLNet.Cli.Commands;
using UViT.MLNet.Core.Generation;
using UViT.MLNet.Core.Networks;
using UViT.MLNet.Estimators;

namespace UViT.MLNet.Cli.Ablation;

/// <summary>The outcome of one (variant, seed) run.</summary>
/// <param name="ForwardGflops">Forward GFLOPs of one image (<see cref="UViTConfig.ForwardGflops"/>); times Steps x batch x 3 is the run's training compute.</param>
/// <param name="FeatureDistance">Frechet distance of the judge's features, generated vs real digits.</param>
/// <param name="Floor">The same distance between two disjoint sets of real digits of the same size.</param>
internal sealed record AblationResult(string Variant, long Seed, int Steps, int BatchSize, int Tokens, long Parameters, double ForwardGflops,
                                      int Count, double Accuracy, double MeanRequestedProbability, double FeatureDistance, double Floor,
                                      double TrainSeconds, double GenerationSeconds);

/// <summary>Runs one variant with one seed.</summary>
internal static class AblationRun
{
    /// <summary>Trains <paramref name="network"/> for <paramref name="steps"/> steps with <paramref name="seed"/> and judges <paramref name="perClass"/> digits per class.</summary>
    /// <param name="device">Where to train and sample: cpu, cuda or cuda:N.</param>
    /// <param name="digits">The training view (the shipped MNIST digits with a key label).</param>
    /// <param name="progress">Receives the trainer's progress reports (a console bar, or nothing); without it no sampling bar is drawn either.</param>
    public static AblationResult Run(MLContext mlContext, IDataView digits, AblationVariant variant, UViTConfig network, int steps, int batchSize, long seed,
                                     string device, SamplerSettings sampling, int perClass, string judgePath, IProgress<TrainingProgress>? progress)
    {
        var options = new UViTTrainerOptions
        {
            Network = network,
            Recipe = UViTTrainerOptions.ShortRunRecipe,
            MaxSteps = steps,
            BatchSize = batchSize,
            Seed = seed,
            Device = device,
            Sampling = sampling,
            ReportInterval = 10,
            Progress = progress,
        };
        var clock = Stopwatch.StartNew();
        using var model = mlContext.Diffusion().Trainers.UViT(options).Fit(digits);
        double trainSeconds = clock.Elapsed.TotalSeconds;
        var outcome = DigitJudging.Run(mlContext, model, model, perClass, seed, judgePath, showProgress: progress is not null);
        var report = outcome.Report;
        return new AblationResult(variant.Name, seed, steps, batchSize, network.TokenCount, model.Generator.Network.ParameterCount, network.ForwardGflops,
                                  report.Count, report.Accuracy, report.MeanRequestedProbability, report.FeatureDistance, report.Floor,
                                  Math.Round(trainSeconds, 1), Math.Round(outcome.GenerationTime.TotalSeconds, 1));
    }
}
