// `mlContext.Diffusion()`: where UViT.MLNet's trainers hang off an MLContext, in ML.NET's catalog style.
using Microsoft.ML;
using UViT.MLNet.Transforms.Persistence;

namespace UViT.MLNet.Estimators;

/// <summary>Diffusion-model components for an <see cref="MLContext"/>.</summary>
public sealed class DiffusionCatalog
{
    internal DiffusionCatalog(MLContext mlContext)
    {
        MLContext = mlContext;
        Trainers = new DiffusionTrainers(mlContext);
        Evaluation = new DiffusionEvaluation();
    }

    internal MLContext MLContext { get; }

    /// <summary>The trainers.</summary>
    public DiffusionTrainers Trainers { get; }

    /// <summary>Sample-quality metrics: FID and Inception Score.</summary>
    public DiffusionEvaluation Evaluation { get; }
}

/// <summary>Diffusion trainers.</summary>
public sealed class DiffusionTrainers
{
    private readonly MLContext _mlContext;

    internal DiffusionTrainers(MLContext mlContext) => _mlContext = mlContext;

    /// <summary>A U-ViT trainer with full options.</summary>
    public UViTTrainer UViT(UViTTrainerOptions options) => new(_mlContext, options);

    /// <summary>A U-ViT trainer on <paramref name="imageColumnName"/> (and <paramref name="labelColumnName"/> if present) for <paramref name="maxSteps"/> steps.</summary>
    public UViTTrainer UViT(string imageColumnName = "Image", string labelColumnName = "Label", int maxSteps = 1000, int batchSize = 64, string? preset = null) =>
        new(_mlContext, new UViTTrainerOptions { ImageColumnName = imageColumnName, LabelColumnName = labelColumnName, MaxSteps = maxSteps, BatchSize = batchSize, Preset = preset });
}

/// <summary>The <c>mlContext.Diffusion()</c> entry point.</summary>
public static class DiffusionCatalogExtensions
{
    /// <summary>UViT.MLNet's catalog; also registers its model-zip loaders with <paramref name="mlContext"/>.</summary>
    public static DiffusionCatalog Diffusion(this MLContext mlContext)
    {
        UViTComponents.Register(mlContext);
        return new DiffusionCatalog(mlContext);
    }
}
