// Registers UViT.MLNet's transformers with an MLContext's component catalog, which is what ML.NET's own assemblies do
// with [assembly: LoadableClass] attributes (internal to ML.NET). Every MLContext that loads a model zip holding our
// transformers must be registered first: `mlContext.RegisterUViT()`, or implicitly through any of our catalog methods.
using System.Reflection;
using System.Runtime.CompilerServices;
using Microsoft.ML;
using Microsoft.ML.Runtime;

namespace UViT.MLNet.Transforms.Persistence;

/// <summary>Registration of UViT.MLNet's model-zip loaders.</summary>
public static class UViTComponents
{
    private static readonly ConditionalWeakTable<ComponentCatalog, object> RegisteredCatalogs = new();
    private static readonly List<(Type Type, Func<ModelFormat> Format, MethodInfo Create)> Loaders = [];
    private static readonly Lock Gate = new();
    private static bool _resolverInstalled;

    /// <summary>Adds a persistent transformer type to the set registered with every MLContext (call once per type, e.g. from a static constructor).</summary>
    public static void AddLoader<T>() where T : class, IPersistentTransformer<T>
    {
        lock (Gate)
        {
            if (Loaders.Any(l => l.Type == typeof(T))) return;
            Loaders.Add((typeof(T), () => T.Format, typeof(PersistentLoader<T>).GetMethod(nameof(PersistentLoader<T>.Create))!));
            RegisteredCatalogs.Clear();   // catalogs registered before must pick up the new loader
        }
    }

    /// <summary>Makes <paramref name="environment"/> (an MLContext) able to load model zips that hold UViT.MLNet transformers. Idempotent.</summary>
    public static void Register(IHostEnvironment environment)
    {
        ArgumentNullException.ThrowIfNull(environment);
        KnownTransformers.EnsureAdded();
        InstallAssemblyResolver();
        Core.Runtime.ScriptHostLoading.Install();   // native libraries and one TorchSharp when loaded by path (notebooks)
        var catalog = environment.ComponentCatalog;
        lock (Gate)
        {
            if (RegisteredCatalogs.TryGetValue(catalog, out _)) return;
            var m = MLNetInternals.Get;
            lock (m.CatalogLock.GetValue(catalog)!)
            {
                foreach (var (type, format, create) in Loaders)
                {
                    string signature = format().LoaderSignature;
                    object attribute = m.LoadableClassAttributeCtor.Invoke([type, create.DeclaringType, null, m.SignatureLoadModel, type.Name, new[] { signature }]);
                    object info = m.LoadableClassInfoCtor.Invoke([attribute, null, null, create, true]);
                    m.CatalogAddClass.Invoke(catalog, [info, new[] { signature }, false]);
                }
            }
            RegisteredCatalogs.AddOrUpdate(catalog, new object());
        }
    }

    // ML.NET's loader calls Assembly.Load by the name recorded in the zip; assemblies loaded by path (notebooks,
    // plug-ins) are not found that way, so resolve our own names to the already-loaded assemblies.
    private static void InstallAssemblyResolver()
    {
        lock (Gate)
        {
            if (_resolverInstalled) return;
            AppDomain.CurrentDomain.AssemblyResolve += (_, args) =>
            {
                string wanted = new AssemblyName(args.Name).Name ?? "";
                if (!wanted.StartsWith("UViT.MLNet", StringComparison.Ordinal)) return null;
                return AppDomain.CurrentDomain.GetAssemblies().FirstOrDefault(a => a.GetName().Name == wanted);
            };
            _resolverInstalled = true;
        }
    }
}

/// <summary>Extension methods that register UViT.MLNet with an <see cref="MLContext"/>.</summary>
public static class UViTMLContextExtensions
{
    /// <summary>
    /// Registers UViT.MLNet's transformers so <c>mlContext.Model.Load</c> can read model zips that contain them.
    /// Our catalog methods do this implicitly; call it yourself in a process that only loads models.
    /// </summary>
    public static MLContext RegisterUViT(this MLContext mlContext)
    {
        UViTComponents.Register(mlContext);
        return mlContext;
    }
}
