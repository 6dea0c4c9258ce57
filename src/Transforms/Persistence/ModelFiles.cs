// ML.NET's Model.Save(path) writes the zip in place: a kill during the save leaves a truncated or empty file where the good
// model was. This writes it through AtomicFile instead (temp file, fsync, rename, folder fsync).
using Microsoft.ML;
using UViT.MLNet.Core.Checkpoints;

namespace UViT.MLNet.Transforms.Persistence;

/// <summary>Crash-safe saving of model zips.</summary>
public static class ModelFiles
{
    /// <summary>
    /// Saves <paramref name="model"/> to <paramref name="path"/> so that the file is either the previous one or the complete new
    /// one, whatever happens during the save (an exception, a kill, a power loss).
    /// </summary>
    public static void SaveAtomically(this ModelOperationsCatalog catalog, ITransformer model, DataViewSchema? inputSchema, string path)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(model);
        AtomicFile.Write(path, stream => catalog.Save(model, inputSchema, stream));
    }
}
