using UViT.MLNet.Transforms.Generation;
using UViT.MLNet.Transforms.Latents;
using UViT.MLNet.Transforms.Text;

namespace UViT.MLNet.Transforms.Persistence;

/// <summary>Every persistent transformer of this assembly; touching the types runs their loader registration.</summary>
internal static class KnownTransformers
{
    public static void EnsureAdded()
    {
        UViTComponents.AddLoader<UViTGenerationTransformer>();
        UViTComponents.AddLoader<LatentEncodingTransformer>();
        UViTComponents.AddLoader<LatentDecodingTransformer>();
        UViTComponents.AddLoader<TextEncodingTransformer>();
    }
}
