// The reflection bridge to the ML.NET 5.0.1 internals that third-party transformers need to live inside an ML.NET model
// zip (docs/design-decisions.md, "Model-zip persistence"). ML.NET exposes ICanSaveModel and ModelSaveContext publicly but
// keeps their members internal, and ModelLoadContext, VersionInfo, LoadableClassAttribute, SignatureLoadModel and the
// SchemaShape.Column constructor are internal. Every member is resolved once, on first use: an ML.NET outside the 5.0 line
// fails there with a message naming both versions, and a missing member (a patch release that moved it) names the member.
using System.Reflection;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;

namespace UViT.MLNet.Transforms.Persistence;

internal static class MLNetInternals
{
    /// <summary>The ML.NET version the bridge was written against; the packages accept [5.0.1, 5.1.0).</summary>
    public const string SupportedVersion = "5.0.1";

    /// <summary>The release line the bridge accepts: internals may move between minor releases, not within 5.0.x.</summary>
    private const string SupportedLine = "5.0.";

    private const BindingFlags AnyInstance = BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic;

    private static readonly Lazy<Members> Resolved = new(Resolve);

    /// <summary>All the internal members the bridge uses; resolving them fails early with a clear message.</summary>
    public static Members Get => Resolved.Value;

    internal sealed record Members(
        Type VersionInfo,
        ConstructorInfo VersionInfoCtor,
        MethodInfo SaveCheckAtModel,
        MethodInfo SaveSetVersionInfo,
        FieldInfo SaveWriter,
        MethodInfo SaveBinaryStream,
        Type ModelLoadContext,
        MethodInfo LoadCheckAtModel,
        FieldInfo LoadReader,
        MethodInfo LoadTryBinaryStream,
        FieldInfo LoadHeader,
        FieldInfo HeaderVersionWritten,
        ConstructorInfo LoadableClassAttributeCtor,
        ConstructorInfo LoadableClassInfoCtor,
        MethodInfo CatalogAddClass,
        FieldInfo CatalogLock,
        Type SignatureLoadModel,
        ConstructorInfo SchemaShapeColumnCtor,
        FieldInfo TransformsCatalogEnvironment);

    private static Members Resolve()
    {
        string loaded = LoadedVersion();
        if (!loaded.StartsWith(SupportedLine, StringComparison.Ordinal))
            throw new InvalidOperationException(
                $"UViT.MLNet needs Microsoft.ML 5.0.x (built against {SupportedVersion}), but this application loaded Microsoft.ML " +
                $"{loaded}. Reference Microsoft.ML {SupportedVersion} (or a later 5.0 patch release) in the application.");

        Assembly core = typeof(ICanSaveModel).Assembly;          // Microsoft.ML.Core
        Type Type(Assembly assembly, string name) => assembly.GetType(name) ?? throw Missing($"type {name}");
        MethodInfo Method(Type type, string name, params Type[] parameters) =>
            type.GetMethod(name, AnyInstance, null, parameters, null) ?? throw Missing($"{type.Name}.{name}({string.Join(", ", parameters.Select(p => p.Name))})");
        FieldInfo Field(Type type, string name) => type.GetField(name, AnyInstance) ?? throw Missing($"field {type.Name}.{name}");
        ConstructorInfo Ctor(Type type, params Type[] parameters) =>
            type.GetConstructor(AnyInstance, null, parameters, null) ?? throw Missing($"constructor {type.Name}({string.Join(", ", parameters.Select(p => p.Name))})");

        var versionInfo = Type(core, "Microsoft.ML.VersionInfo");
        var saveContext = typeof(ModelSaveContext);
        var loadContext = Type(core, "Microsoft.ML.ModelLoadContext");
        var loadableAttribute = Type(core, "Microsoft.ML.LoadableClassAttribute");
        var loadableAttributeBase = Type(core, "Microsoft.ML.LoadableClassAttributeBase");
        var loadableInfo = Type(core, "Microsoft.ML.Runtime.ComponentCatalog+LoadableClassInfo");
        var signature = Type(core, "Microsoft.ML.SignatureLoadModel");
        var vectorKind = typeof(SchemaShape.Column.VectorKind);

        return new Members(
            versionInfo,
            Ctor(versionInfo, typeof(string), typeof(uint), typeof(uint), typeof(uint), typeof(string), typeof(string), typeof(string)),
            Method(saveContext, "CheckAtModel"),
            Method(saveContext, "SetVersionInfo", versionInfo),
            Field(saveContext, "Writer"),
            Method(saveContext, "SaveBinaryStream", typeof(string), typeof(Action<BinaryWriter>)),
            loadContext,
            Method(loadContext, "CheckAtModel", versionInfo),
            Field(loadContext, "Reader"),
            Method(loadContext, "TryLoadBinaryStream", typeof(string), typeof(Action<BinaryReader>)),
            Field(loadContext, "Header"),
            Field(Type(core, "Microsoft.ML.ModelHeader"), "ModelVerWritten"),
            Ctor(loadableAttribute, typeof(Type), typeof(Type), typeof(Type), typeof(Type), typeof(string), typeof(string[])),
            Ctor(loadableInfo, loadableAttributeBase, typeof(MethodInfo), typeof(ConstructorInfo), typeof(MethodInfo), typeof(bool)),
            Method(typeof(ComponentCatalog), "AddClass", loadableInfo, typeof(string[]), typeof(bool)),
            Field(typeof(ComponentCatalog), "_lock"),
            signature,
            Ctor(typeof(SchemaShape.Column), typeof(string), vectorKind, typeof(DataViewType), typeof(bool), typeof(SchemaShape)),
            Field(typeof(TransformsCatalog), "_env"));
    }

    private static InvalidOperationException Missing(string what) => new(
        $"UViT.MLNet cannot save or load models with this ML.NET: {what} was not found in Microsoft.ML {LoadedVersion()}. " +
        $"UViT.MLNet's model-zip support is built against Microsoft.ML {SupportedVersion}; reference that version.");

    /// <summary>
    /// The NuGet version of the loaded ML.NET ("5.0.1"), from its informational version ("5.0.1+commit"): ML.NET's assembly
    /// version is 1.0.0.0 in every release, so it cannot tell them apart.
    /// </summary>
    internal static string LoadedVersion()
    {
        string? informational = typeof(ICanSaveModel).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion;
        return string.IsNullOrEmpty(informational) ? "(unknown version)" : informational.Split('+')[0];
    }

    /// <summary>Creates an ML.NET VersionInfo for <paramref name="format"/>.</summary>
    public static object VersionInfo(ModelFormat format) => Get.VersionInfoCtor.Invoke(
        [format.ModelSignature, format.VersionWritten, format.VersionReadableBy, format.VersionWeCanReadBack,
         format.LoaderAssembly.FullName, format.LoaderSignature, null]);

    /// <summary>Builds a SchemaShape.Column (its constructor is internal).</summary>
    public static SchemaShape.Column SchemaColumn(string name, SchemaShape.Column.VectorKind kind, DataViewType itemType, bool isKey) =>
        (SchemaShape.Column)Get.SchemaShapeColumnCtor.Invoke([name, kind, itemType, isKey, null]);

    /// <summary>The environment behind a transforms catalog (to register our loaders with its component catalog).</summary>
    public static IHostEnvironment Environment(TransformsCatalog catalog) => (IHostEnvironment)Get.TransformsCatalogEnvironment.GetValue(catalog)!;
}
