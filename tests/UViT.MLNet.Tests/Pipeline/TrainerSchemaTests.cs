// The trainer's output schema promises only what the generator will write: an MLImage column for grey and RGB models, not
// for 4-channel latent models.
using Microsoft.ML;
using Microsoft.ML.Data;
using UViT.MLNet.Estimators;
using UViT.MLNet.Transforms.Generation;
using UViT.MLNet.Transforms.Persistence;

namespace UViT.MLNet.Tests.Pipeline;

[TestClass]
public sealed class TrainerSchemaTests
{
    [TestMethod]
    public void OnlyGreyAndRgbModelsPromiseAnImageColumn()
    {
        var mlContext = new MLContext(seed: 1);
        var shape = new SchemaShape([
            MLNetInternals.SchemaColumn(UViTColumns.Image, SchemaShape.Column.VectorKind.Vector, NumberDataViewType.Single, false),
            MLNetInternals.SchemaColumn(UViTColumns.Label, SchemaShape.Column.VectorKind.Scalar, NumberDataViewType.UInt32, true)]);
        var grey = mlContext.Diffusion().Trainers.UViT(PipelineFixture.TinyOptions()).GetOutputSchema(shape);
        Assert.IsTrue(Has(grey, UViTColumns.GeneratedImage), "a grey model's schema lacks the image column");
        Assert.IsTrue(Has(grey, UViTColumns.GeneratedPixels));

        var latentOptions = PipelineFixture.TinyOptions();
        latentOptions.Network = PipelineFixture.TinyMnistNetwork with { InChannels = 4 };
        var latent = mlContext.Diffusion().Trainers.UViT(latentOptions).GetOutputSchema(shape);
        Assert.IsFalse(Has(latent, UViTColumns.GeneratedImage), "a 4-channel model promises an image column it never writes");
        Assert.IsTrue(Has(latent, UViTColumns.GeneratedPixels));
    }

    private static bool Has(SchemaShape shape, string name) => shape.Any(c => c.Name == name);
}
