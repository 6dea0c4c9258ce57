// `mlContext.Diffusion().Evaluation`: FID and Inception Score of image data views, in ML.NET's catalog style.
using Microsoft.ML;
using UViT.MLNet.Core.Evaluation;
using UViT.MLNet.Transforms.Evaluation;

namespace UViT.MLNet.Estimators;

/// <summary>Sample-quality metrics of diffusion models.</summary>
public sealed class DiffusionEvaluation
{
    internal DiffusionEvaluation()
    {
    }

    /// <summary>
    /// FID of <paramref name="data"/>'s images against reference statistics in an <c>.npz</c> file (keys <c>mu</c>, <c>sigma</c>),
    /// in one streaming pass. Loads the Inception network for this call; to evaluate several views use <see cref="CreateFidEvaluator"/>.
    /// </summary>
    /// <param name="data">The images: see <see cref="FidOptions.ImageColumnName"/>.</param>
    /// <param name="referenceStatisticsPath">Reference statistics, e.g. U-ViT's <c>fid_stats_imagenet256_guided_diffusion.npz</c>.</param>
    /// <param name="inceptionWeightsPath">FID Inception weights (torch.save, zip or legacy, or safetensors).</param>
    public FidResult Fid(IDataView data, string referenceStatisticsPath, string inceptionWeightsPath, FidOptions? options = null,
                         IProgress<FidProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        var reference = FidStatisticsFile.Read(referenceStatisticsPath);
        using var evaluator = new FidEvaluator(inceptionWeightsPath, options);
        return evaluator.Evaluate(data, reference, progress, cancellationToken);
    }

    /// <summary>An evaluator holding the loaded Inception network (dispose it): reference statistics and FIDs of many views.</summary>
    public FidEvaluator CreateFidEvaluator(string inceptionWeightsPath, FidOptions? options = null) => new(inceptionWeightsPath, options);
}
