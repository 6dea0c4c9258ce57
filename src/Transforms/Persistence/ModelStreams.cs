// Typed facades over ML.NET's internal save/load contexts, handed to our transformers' Save/Load code.
using Microsoft.ML;

namespace UViT.MLNet.Transforms.Persistence;

/// <summary>Where a transformer writes itself: the model's main binary stream plus named side streams (weights).</summary>
public sealed class ModelSaveWriter
{
    private readonly ModelSaveContext _context;

    internal ModelSaveWriter(ModelSaveContext context, ModelFormat format)
    {
        _context = context;
        var m = MLNetInternals.Get;
        m.SaveCheckAtModel.Invoke(context, null);
        m.SaveSetVersionInfo.Invoke(context, [MLNetInternals.VersionInfo(format.Validate())]);
        Writer = (BinaryWriter)m.SaveWriter.GetValue(context)!;
    }

    /// <summary>The component's main stream (small settings; keep large tensors in <see cref="SaveStream"/>).</summary>
    public BinaryWriter Writer { get; }

    /// <summary>Writes a named zip entry next to the component (e.g. "Weights.safetensors").</summary>
    public void SaveStream(string name, Action<BinaryWriter> write) => MLNetInternals.Get.SaveBinaryStream.Invoke(_context, [name, write]);
}

/// <summary>What a loader reads from: the main binary stream and the named side streams written by <see cref="ModelSaveWriter"/>.</summary>
public sealed class ModelLoadReader
{
    private readonly object _context;

    internal ModelLoadReader(object context, ModelFormat format)
    {
        _context = context;
        var m = MLNetInternals.Get;
        try
        {
            m.LoadCheckAtModel.Invoke(context, [MLNetInternals.VersionInfo(format)]);
        }
        catch (System.Reflection.TargetInvocationException e) when (e.InnerException is not null)
        {
            throw new InvalidDataException($"The model zip's '{format.LoaderSignature}' entry is not a readable version of this format " +
                                           $"(we read versions {format.VersionWeCanReadBack:X8}..{format.VersionWritten:X8}): {e.InnerException.Message}", e.InnerException);
        }
        Reader = (BinaryReader)m.LoadReader.GetValue(context)!;
        VersionWritten = (uint)m.HeaderVersionWritten.GetValue(m.LoadHeader.GetValue(context))!;
    }

    /// <summary>The format version the entry was written in (between the format's VersionWeCanReadBack and VersionWritten), for loaders to branch on.</summary>
    public uint VersionWritten { get; }

    /// <summary>The component's main stream.</summary>
    public BinaryReader Reader { get; }

    /// <summary>Reads a named side stream; throws <see cref="InvalidDataException"/> when the zip lacks it.</summary>
    public void LoadStream(string name, Action<BinaryReader> read)
    {
        bool found = (bool)MLNetInternals.Get.LoadTryBinaryStream.Invoke(_context, [name, read])!;
        if (!found) throw new InvalidDataException($"The model zip has no '{name}' entry: the file is truncated or was not written by UViT.MLNet.");
    }
}
