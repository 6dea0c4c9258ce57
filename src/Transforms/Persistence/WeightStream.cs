// Tensors inside a model-zip side stream: [int64 length][SHA-256 of the payload][safetensors payload]. The checksum turns
// silent corruption (a flipped byte inside the weights still parses as valid floats) into a clear error on load.
using System.Security.Cryptography;
using TorchSharp.PyBridge;
using UViT.MLNet.Core.Checkpoints;
using static TorchSharp.torch;

namespace UViT.MLNet.Transforms.Persistence;

internal static class WeightStream
{
    /// <summary>Writes <paramref name="state"/> (copied to contiguous CPU tensors) with its checksum.</summary>
    public static void Write(BinaryWriter writer, IEnumerable<KeyValuePair<string, Tensor>> state)
    {
        using var scope = NewDisposeScope();                        // the detached, CPU and contiguous copies
        var cpu = state.ToDictionary(kv => kv.Key, kv => kv.Value.detach().cpu().contiguous());
        using var buffer = new MemoryStream();
        Safetensors.SaveStateDict(buffer, cpu, leaveOpen: true);
        var payload = buffer.GetBuffer().AsSpan(0, (int)buffer.Length);
        writer.Write((long)payload.Length);
        writer.Write(SHA256.HashData(payload));
        writer.Write(payload);
    }

    /// <summary>Reads what <see cref="Write"/> wrote; the caller owns the tensors.</summary>
    /// <exception cref="InvalidDataException">The stream is truncated, its checksum does not match, or it is not safetensors.</exception>
    public static Dictionary<string, Tensor> Read(BinaryReader reader, string name)
    {
        long length = reader.ReadInt64();
        long remaining = reader.BaseStream.CanSeek ? reader.BaseStream.Length - reader.BaseStream.Position - 32 : Array.MaxLength;
        if (length < 0 || length > Math.Min(remaining, Array.MaxLength))
            throw new InvalidDataException($"The model zip's '{name}' entry is corrupt: it claims {length} bytes of weights, {Math.Max(remaining, 0)} remain.");
        byte[] expected = reader.ReadBytes(32);
        byte[] payload = reader.BaseStream.CanSeek ? reader.ReadBytes((int)length) : ReadGrowing(reader.BaseStream, length);
        if (expected.Length != 32 || payload.Length != length)
            throw new InvalidDataException($"The model zip's '{name}' entry is truncated ({payload.Length} of {length} bytes).");
        if (!SHA256.HashData(payload).AsSpan().SequenceEqual(expected))
            throw new InvalidDataException($"The model zip's '{name}' entry is corrupt (checksum mismatch): the file was damaged after it was written.");
        try
        {
            var stream = new MemoryStream(payload);
            SafetensorsHeader.Validate(stream, $"model zip entry {name}");
            return Safetensors.LoadStateDict(stream);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new InvalidDataException($"The model zip's '{name}' entry is corrupt: {e.Message}", e);
        }
    }

    /// <summary>
    /// Up to <paramref name="length"/> bytes from a stream whose size is unknown, read in 1 MiB pieces so that a corrupt
    /// length allocates only as much as the stream really holds (BinaryReader.ReadBytes allocates the claimed size first).
    /// </summary>
    private static byte[] ReadGrowing(Stream stream, long length)
    {
        using var buffer = new MemoryStream();
        var piece = new byte[1 << 20];
        while (buffer.Length < length)
        {
            int read = stream.Read(piece, 0, (int)Math.Min(piece.Length, length - buffer.Length));
            if (read == 0) break;                                                  // truncated: the caller reports it
            buffer.Write(piece, 0, read);
        }
        return buffer.ToArray();
    }
}
