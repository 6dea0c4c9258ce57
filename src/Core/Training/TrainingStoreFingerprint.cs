// The fingerprint of a training set: a SHA-256 over its rows as the trainer sees them, computed while the rows stream past,
// so that a resumed run can tell that it trains on the same data without holding that data. The in-memory and the on-disk
// training paths feed the same rows in the same order, so both give the same fingerprint.
using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Security.Cryptography;

namespace UViT.MLNet.Core.Training;

/// <summary>Accumulates rows (item count, float32 values, optional label) into a SHA-256 fingerprint.</summary>
public sealed class TrainingStoreFingerprint : IDisposable
{
    private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);

    /// <summary>Adds one row: <paramref name="items"/> items whose floats are <paramref name="values"/>, and its 0-based label (or -1 for none).</summary>
    public void AddRow(ReadOnlySpan<float> values, int items, int label = -1)
    {
        Span<byte> fields = stackalloc byte[2 * sizeof(int)];
        BinaryPrimitives.WriteInt32LittleEndian(fields, items);
        BinaryPrimitives.WriteInt32LittleEndian(fields[sizeof(int)..], label);
        _hash.AppendData(fields);
        _hash.AppendData(MemoryMarshal.AsBytes(values));             // the float32 bytes (little-endian on every supported platform)
    }

    /// <summary>The fingerprint of the rows added so far, as 64 lower-case hex digits.</summary>
    public string Current() => Convert.ToHexString(_hash.GetCurrentHash()).ToLowerInvariant();

    public void Dispose() => _hash.Dispose();
}
