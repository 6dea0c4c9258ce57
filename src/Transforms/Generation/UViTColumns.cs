// The default column names of the U-ViT trainer and generation transformer, in one place.
namespace UViT.MLNet.Transforms.Generation;

/// <summary>Default column names: what the trainer reads and what the generation transformer reads and writes.</summary>
public static class UViTColumns
{
    /// <summary>The training images (a planar Vector&lt;Single, C, H, W&gt;).</summary>
    public const string Image = "Image";
    /// <summary>The class: a key column for training, a key or integer class index for generation.</summary>
    public const string Label = "Label";
    /// <summary>The optional per-row generation seed.</summary>
    public const string Seed = "Seed";
    /// <summary>The text context (EncodeText's output) of text models.</summary>
    public const string Context = "Context";
    /// <summary>The generated planar vector.</summary>
    public const string GeneratedPixels = "GeneratedPixels";
    /// <summary>The generated MLImage (1- and 3-channel models only).</summary>
    public const string GeneratedImage = "GeneratedImage";
}
