using Microsoft.ML;
using Microsoft.ML.Runtime;

namespace UViT.MLNet.Transforms.Persistence;

/// <summary>
/// A transformer that can be written into and read back from an ML.NET model zip. <see cref="Format"/> names its entry;
/// <see cref="Load"/> rebuilds it from what <see cref="ICanSaveModel.Save"/> wrote through <see cref="ModelSaveWriter"/>.
/// </summary>
public interface IPersistentTransformer<TSelf> : ITransformer where TSelf : class, IPersistentTransformer<TSelf>
{
    /// <summary>The zip entry format (signature, versions, loader name).</summary>
    static abstract ModelFormat Format { get; }

    /// <summary>Rebuilds the transformer from its zip entry.</summary>
    static abstract TSelf Load(IHostEnvironment environment, ModelLoadReader reader);
}

/// <summary>The static method ML.NET's component catalog invokes to load <typeparamref name="T"/>: (environment, ModelLoadContext).</summary>
internal static class PersistentLoader<T> where T : class, IPersistentTransformer<T>
{
    // ML.NET calls this through MethodInfo.Invoke with its internal ModelLoadContext, hence the object parameter.
    public static T Create(IHostEnvironment environment, object context) => T.Load(environment, new ModelLoadReader(context, T.Format));
}
