// The Razorvine.Pickle side of legacy torch.save files: persistent ids name storages, `_rebuild_tensor_v2` calls name views
// of them. Provenance: PyTorch torch/serialization.py (`_legacy_save` persistent_id, `_legacy_load` persistent_load) and
// torch/_utils.py (`_rebuild_tensor_v2`). The storage bytes follow the pickles, so both are recorded here and turned into
// tensors by LegacyTorchSaveReader once the bytes have been read.
using System.Collections;
using System.Numerics;
using System.Runtime.CompilerServices;
using Razorvine.Pickle;
using Razorvine.Pickle.Objects;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace UViT.MLNet.Core.Checkpoints;

/// <summary>One storage of a legacy file: its key, element type and count; <see cref="Data"/> is filled from the file's tail.</summary>
internal sealed class LegacyStorage(string key, ScalarType dtype, long count)
{
    public string Key { get; } = key;
    public ScalarType DType { get; } = dtype;
    public long Count { get; } = count;
    public Tensor? Data { get; set; }                                                   // [Count], 1-D
}

/// <summary>A tensor as <c>_rebuild_tensor_v2</c> describes it: a strided view of a storage, made real by <see cref="Materialize"/>.</summary>
internal sealed record LegacyTensorView(LegacyStorage Storage, long Offset, long[] Size, long[] Stride)
{
    /// <summary>The view over the storage's tensor (sharing its memory, as PyTorch's load does).</summary>
    public Tensor Materialize(string path)
    {
        long last = Offset + Size.Zip(Stride, (n, s) => (n - 1) * s).Sum();
        bool empty = Size.Any(n => n == 0);
        if (Offset < 0 || Stride.Any(s => s < 0) || (!empty && last >= Storage.Count))
            throw new InvalidDataException($"'{path}' is corrupt: a tensor (offset {Offset}, size [{string.Join(", ", Size)}], stride " +
                                           $"[{string.Join(", ", Stride)}]) reaches outside its storage '{Storage.Key}' of {Storage.Count} elements.");
        return Storage.Data!.as_strided(Size, Stride, Offset);
    }
}

/// <summary>
/// Unpickles the pickles of a legacy torch.save file. Storage persistent ids become <see cref="LegacyStorage"/>s (one per key,
/// so tensors that share a storage share it here too) and tensors become <see cref="LegacyTensorView"/>s.
/// </summary>
internal sealed class LegacyTorchUnpickler(string path) : Unpickler
{
    /// <summary>Storage type name (PyTorch's <c>torch.FloatStorage</c> etc.) -> element type.</summary>
    private static readonly Dictionary<string, ScalarType> StorageTypes = new()
    {
        ["FloatStorage"] = ScalarType.Float32, ["HalfStorage"] = ScalarType.Float16, ["BFloat16Storage"] = ScalarType.BFloat16,
        ["DoubleStorage"] = ScalarType.Float64, ["LongStorage"] = ScalarType.Int64, ["IntStorage"] = ScalarType.Int32,
        ["ShortStorage"] = ScalarType.Int16, ["CharStorage"] = ScalarType.Int8, ["ByteStorage"] = ScalarType.Byte,
        ["BoolStorage"] = ScalarType.Bool,
    };

    static LegacyTorchUnpickler()
    {
        // Razorvine keeps one process-wide table of constructors. PyBridge fills it (for zip files) the first time its
        // unpickler is used, which would replace ours; so let it register now, then put ours in front of its own.
        // Its collections.OrderedDict constructor (a Hashtable) serves both formats.
        RuntimeHelpers.RunClassConstructor(typeof(PyTorchUnpickler).TypeHandle);
        ChainTensorConstructor("_rebuild_tensor_v2");
        ChainTensorConstructor("_rebuild_tensor");   // older PyTorch: the same leading arguments
    }

    /// <summary>The storages met so far, by key.</summary>
    public Dictionary<string, LegacyStorage> Storages { get; } = [];

    /// <summary><c>('storage', storage_type, key, location, numel, view_metadata)</c> -> the storage for that key.</summary>
    protected override object persistentLoad(object pid)
    {
        if (pid is not object[] { Length: >= 5 } id || id[0] is not "storage" || id[2] is not string key)
            throw new InvalidDataException($"'{path}' is corrupt: a persistent id is not a torch storage reference.");
        if (id[1] is not ClassDictConstructor { module: "torch" } type || !StorageTypes.TryGetValue(type.name, out var dtype))
        {
            string name = id[1] is ClassDictConstructor c ? $"{c.module}.{c.name}" : id[1]?.GetType().Name ?? "null";
            throw new InvalidDataException($"'{path}' holds a storage of type {name}, which is not supported " +
                                           $"(supported: {string.Join(", ", StorageTypes.Keys.Select(k => "torch." + k))}).");
        }
        if (id.Length > 5 && id[5] is not null)
            throw new InvalidDataException($"'{path}' uses storage views (view_metadata, from old PyTorch versions), which are not supported.");
        long count = ToInt64(id[4]);
        if (Storages.TryGetValue(key, out var known))
        {
            if (known.DType != dtype || known.Count != count)
                throw new InvalidDataException($"'{path}' is corrupt: storage '{key}' is declared as both {known.DType} x{known.Count} and {dtype} x{count}.");
            return known;
        }
        return Storages[key] = new LegacyStorage(key, dtype, count);
    }

    /// <summary>A pickled integer (Razorvine gives int, long or BigInteger by magnitude) as a long.</summary>
    public static long ToInt64(object? value) => value switch
    {
        int i => i,
        long l => l,
        BigInteger b when b >= long.MinValue && b <= long.MaxValue => (long)b,
        _ => throw new InvalidCastException($"expected an integer, found {value?.GetType().Name ?? "None"}"),
    };

    private static void ChainTensorConstructor(string function)
    {
        objectConstructors.TryGetValue($"torch._utils.{function}", out var next);
        registerConstructor("torch._utils", function, new RebuildTensor(next));
    }

    /// <summary>
    /// <c>_rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])</c> for our
    /// storages; every other call (PyBridge's zip files) goes to the constructor that was registered before.
    /// </summary>
    private sealed class RebuildTensor(IObjectConstructor? next) : IObjectConstructor
    {
        public object construct(object[] args)
        {
            if (args is not [LegacyStorage storage, var offset, object[] size, object[] stride, ..])
                return next?.construct(args) ?? throw new PickleException("torch._utils._rebuild_tensor_v2: unexpected arguments");
            return new LegacyTensorView(storage, ToInt64(offset), size.Select(ToInt64).ToArray(), stride.Select(ToInt64).ToArray());
        }
    }
}
