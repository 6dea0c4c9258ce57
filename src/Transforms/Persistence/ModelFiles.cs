// ML.NET's Model.Save(path) writes the zip in place: a kill during the save leaves a truncated or empty file where the good
// model was. This writes it through AtomicFile instead (temp file, fsync, rename, folder fsync). Loading reports every
// damaged file as one InvalidDataException: ML.NET invokes loaders by reflection, so their errors arrive wrapped in
// TargetInvocationExceptions, and its own zip and header checks throw FormatException or InvalidOperationException.
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

    /// <summary>
    /// Loads a model zip, registering UViT.MLNet's loaders with <paramref name="mlContext"/> first: ML.NET's own
    /// <c>mlContext.Model.Load</c> finds them only after <c>mlContext.RegisterUViT()</c> (without it, it fails with
    /// "Error during class instantiation", inner "Couldn't load model: '...'"), because ML.NET 5 offers third-party assemblies no way to register themselves.
    /// </summary>
    /// <exception cref="FileNotFoundException">No such file.</exception>
    /// <exception cref="InvalidDataException">The file is truncated, corrupt or not a model zip; the message names it and the innermost cause.</exception>
    public static ITransformer LoadChecked(this MLContext mlContext, string path, out DataViewSchema inputSchema)
    {
        ArgumentNullException.ThrowIfNull(mlContext);
        if (!File.Exists(path)) throw new FileNotFoundException($"Model file '{path}' does not exist.", path);
        mlContext.RegisterUViT();
        try
        {
            return mlContext.Model.Load(path, out inputSchema);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            var cause = e;
            while (cause is System.Reflection.TargetInvocationException { InnerException: { } inner }) cause = inner;
            // ML.NET's words when no registered loader matches an entry's signature (UViT.MLNet's are registered above); a
            // chain reports it wrapped in "Error during class instantiation".
            for (var inner = e; inner is not null; inner = inner.InnerException)
                if (inner.Message.StartsWith("Couldn't load model", StringComparison.Ordinal))
                    throw new InvalidDataException($"'{path}' holds a transformer that no loader in this process knows ({inner.Message}): the assembly " +
                                                   "that wrote it is not referenced, or a newer version of it wrote the zip.", e);
            throw new InvalidDataException($"'{path}' could not be loaded as a model zip (truncated, corrupt, or written by another version?): {cause.Message}", e);
        }
    }
}
