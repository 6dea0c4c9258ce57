// Finds, in compiled IL, every place where libtorch gets a TorchSharp Scalar that nobody holds: a call to Scalar's implicit
// conversion (`t * 0.5`, `t.clamp(0, 1)`), or a call to a TorchSharp method that makes such a Scalar inside - found by
// following TorchSharp's own call graph from its implicit conversions (its `add(Tensor)` passes alpha = 1, the operators with
// numbers, `square()`, AdamW.step, ...). A finalizer may free such a Scalar while libtorch reads it (Runtime/KeptScalars.cs).
using Mono.Cecil;
using Mono.Cecil.Cil;

namespace UViT.MLNet.Tests.Support;

internal static class ImplicitScalarCalls
{
    private static readonly Lazy<(HashSet<string> Tainted, DefaultAssemblyResolver Resolver)> TorchSharpGraph = new(BuildTorchSharpGraph);

    /// <summary>Whether TorchSharp's method <paramref name="fullName"/> (Cecil's full name) makes an unheld Scalar.</summary>
    public static bool MakesUnheldScalar(string fullName) => TorchSharpGraph.Value.Tainted.Contains(fullName);

    /// <summary>"file:line  what" for each call in <paramref name="assemblyPath"/> that hands libtorch an unheld Scalar.</summary>
    public static IReadOnlyList<string> In(string assemblyPath)
    {
        var (tainted, resolver) = TorchSharpGraph.Value;
        bool symbols = File.Exists(Path.ChangeExtension(assemblyPath, ".pdb"));
        using var assembly = AssemblyDefinition.ReadAssembly(assemblyPath, new ReaderParameters { AssemblyResolver = resolver, ReadSymbols = symbols });
        var found = new List<string>();
        foreach (var method in assembly.MainModule.GetTypes().SelectMany(t => t.Methods).Where(m => m.HasBody))
            foreach (var instruction in method.Body.Instructions)
                if (instruction.Operand is MethodReference callee && (IsImplicitScalar(callee) || tainted.Contains(Resolve(callee))))
                    found.Add($"{Where(method, instruction)}  {Describe(callee)}");
        foreach (var field in assembly.MainModule.GetTypes().SelectMany(t => t.Fields))
            if (ForwardOf(field.FieldType) is { } forward && tainted.Contains(forward.FullName))
                found.Add($"{field.DeclaringType.Name}.{field.Name}  {forward.DeclaringType.FullName}.forward");
        return found;
    }

    private static bool IsImplicitScalar(MethodReference m) => m.DeclaringType.FullName == "TorchSharp.Scalar" && m.Name == "op_Implicit";

    private static (HashSet<string>, DefaultAssemblyResolver) BuildTorchSharpGraph()
    {
        var resolver = new DefaultAssemblyResolver();
        resolver.AddSearchDirectory(AppContext.BaseDirectory);
        resolver.AddSearchDirectory(Path.GetDirectoryName(typeof(object).Assembly.Location)!);
        var torchSharp = AssemblyDefinition.ReadAssembly(typeof(TorchSharp.torch).Assembly.Location, new ReaderParameters { AssemblyResolver = resolver });
        var tainted = new HashSet<string>();
        var callers = new Dictionary<string, List<string>>();
        foreach (var method in torchSharp.MainModule.GetTypes().SelectMany(t => t.Methods).Where(m => m.HasBody))
            foreach (var instruction in method.Body.Instructions)
                if (instruction.Operand is MethodReference callee)
                {
                    if (IsImplicitScalar(callee)) tainted.Add(method.FullName);
                    string key = Resolve(callee);
                    if (!callers.TryGetValue(key, out var list)) callers[key] = list = [];
                    list.Add(method.FullName);
                }
        var pending = new Queue<string>(tainted);
        while (pending.TryDequeue(out var callee))
            foreach (var caller in callers.GetValueOrDefault(callee) ?? [])
                if (tainted.Add(caller)) pending.Enqueue(caller);
        return (tainted, resolver);
    }

    /// <summary>The forward(Tensor) a TorchSharp module field runs (its own or inherited), or null for other types.</summary>
    private static MethodDefinition? ForwardOf(TypeReference type)
    {
        if (type.Scope?.Name?.StartsWith("TorchSharp", StringComparison.Ordinal) != true) return null;
        for (var definition = TryResolve(type); definition is not null; definition = definition.BaseType is { } b ? TryResolve(b) : null)
            if (definition.Methods.FirstOrDefault(m => m.Name == "forward" && m.HasBody && m.Parameters.Count == 1) is { } forward) return forward;
        return null;
    }

    private static TypeDefinition? TryResolve(TypeReference type)
    {
        try { return type.Resolve(); } catch (AssemblyResolutionException) { return null; }
    }

    private static string Resolve(MethodReference method)
    {
        try { return method.Resolve()?.FullName ?? method.FullName; }
        catch (AssemblyResolutionException) { return method.FullName; }
    }

    private static string Describe(MethodReference callee) => IsImplicitScalar(callee)
        ? $"implicit Scalar from {callee.Parameters[0].ParameterType.Name}"
        : $"{callee.DeclaringType.Name}.{callee.Name}({string.Join(", ", callee.Parameters.Select(p => p.ParameterType.Name))})";

    private static string Where(MethodDefinition method, Instruction instruction)
    {
        var point = method.DebugInformation.HasSequencePoints
            ? method.DebugInformation.SequencePoints.LastOrDefault(p => p.Offset <= instruction.Offset && !p.IsHidden)
            : null;
        return point is null ? method.FullName : $"{Path.GetFileName(point.Document.Url)}:{point.StartLine}";
    }
}
