namespace UViT.MLNet.Transforms.Generation;

/// <summary>The value range of an image vector column. The network itself always works in [-1, 1].</summary>
public enum PixelRange
{
    /// <summary>0 to 255, what ML.NET's ExtractPixels produces by default.</summary>
    Bytes,
    /// <summary>0 to 1.</summary>
    Unit,
    /// <summary>-1 to 1, the network's own range (also: already-scaled latents, passed through unchanged).</summary>
    Symmetric,
}

/// <summary>Conversions between a <see cref="PixelRange"/> and the network's [-1, 1].</summary>
public static class PixelRanges
{
    /// <summary>(scale, offset) such that model = value * scale + offset.</summary>
    public static (float Scale, float Offset) ToModel(PixelRange range) => range switch
    {
        PixelRange.Bytes => (1f / 127.5f, -1f),
        PixelRange.Unit => (2f, -1f),
        _ => (1f, 0f),
    };

    /// <summary>Maps a model-space value back to <paramref name="range"/>.</summary>
    public static float FromModel(float model, PixelRange range) => range switch
    {
        PixelRange.Bytes => (model + 1f) * 127.5f,
        PixelRange.Unit => (model + 1f) * 0.5f,
        _ => model,
    };

    /// <summary>A model-space value as an 8-bit pixel (clamped).</summary>
    public static byte ToByte(float model) => (byte)Math.Clamp(MathF.Round((model + 1f) * 127.5f), 0f, 255f);
}
