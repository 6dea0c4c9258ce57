// The request rows behind the samples' class grids.
using Microsoft.ML;
using UViT.MLNet.Transforms.Generation;

namespace UViT.MLNet.Samples;

/// <summary>Generation requests for a grid with one row per class.</summary>
public static class ClassGrid
{
    /// <summary>
    /// <paramref name="perClass"/> requests for every class of <paramref name="generator"/>'s model, class by class; request i
    /// has seed <paramref name="firstSeed"/> + i, so each image depends only on its (class, seed), never on the grid's shape.
    /// </summary>
    public static IDataView Requests(UViTGenerationTransformer generator, MLContext mlContext, int perClass, long firstSeed)
    {
        int classes = generator.Generator.ClassCount;
        return generator.CreateRequests(mlContext, Enumerable.Range(0, classes * perClass).Select(i => (i / perClass, firstSeed + i)));
    }
}
