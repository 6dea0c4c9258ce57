using System.Reflection;

namespace UViT.MLNet.Transforms.Persistence;

/// <summary>
/// Identity and version of one persisted component inside an ML.NET model zip (ML.NET's VersionInfo, public here).
/// </summary>
/// <param name="ModelSignature">Exactly 8 ASCII characters identifying the format, e.g. "UVITGENR".</param>
/// <param name="VersionWritten">The version this code writes.</param>
/// <param name="VersionReadableBy">The oldest reader version that can read what we write.</param>
/// <param name="VersionWeCanReadBack">The oldest written version this code can still read.</param>
/// <param name="LoaderSignature">The name ML.NET looks the loader up by (unique across all components; under 24 characters).</param>
/// <param name="LoaderAssembly">The assembly that holds the loader (ML.NET records its name in the zip).</param>
public sealed record ModelFormat(string ModelSignature, uint VersionWritten, uint VersionReadableBy, uint VersionWeCanReadBack,
                                 string LoaderSignature, Assembly LoaderAssembly)
{
    /// <summary>Validates the signature length (ML.NET packs it into a 64-bit integer).</summary>
    public ModelFormat Validate()
    {
        if (ModelSignature.Length != 8 || ModelSignature.Any(c => c > 127))
            throw new ArgumentException($"Model signature '{ModelSignature}' must be exactly 8 ASCII characters.");
        if (LoaderSignature.Length >= 24)   // ML.NET's model header stores it in 24 characters including a terminator
            throw new ArgumentException($"Loader signature '{LoaderSignature}' must be shorter than 24 characters.");
        return this;
    }
}
