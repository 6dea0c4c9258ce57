// Reads and writes single arrays in NumPy's .npy format (the members of the .npz files that hold FID reference statistics).
// Format (numpy/lib/format.py, NEP 1): magic "\x93NUMPY", major and minor version bytes, header length (uint16 LE for
// version 1.0, uint32 LE for 2.0 and 3.0), an ASCII (3.0: UTF-8) Python dict literal
// {'descr': '<f8', 'fortran_order': False, 'shape': (D, D), } padded with spaces and '\n' so the data starts on a 64-byte
// boundary, then the raw values. Only the float dtypes FID statistics use are supported: '<f8', '<f4' (and big-endian twins).
using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace UViT.MLNet.Core.Evaluation;

/// <summary>A float array read from a .npy stream: values in C (row-major) order, and its shape.</summary>
public sealed record NpyArray(double[] Values, long[] Shape);

/// <summary>NumPy .npy reader/writer for float64/float32 arrays.</summary>
public static partial class NpyFormat
{
    private static readonly byte[] Magic = [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];

    /// <summary>Reads one array; float32 values are widened to float64; Fortran-ordered arrays are returned in C order.</summary>
    /// <param name="name">How to name the array in errors (e.g. "stats.npz/mu.npy").</param>
    /// <exception cref="InvalidDataException">Not a .npy stream, an unsupported dtype, or truncated data.</exception>
    public static NpyArray Read(Stream stream, string name)
    {
        Span<byte> prefix = stackalloc byte[8];
        if (stream.ReadAtLeast(prefix, 8, throwOnEndOfStream: false) < 8 || !prefix[..6].SequenceEqual(Magic))
            throw new InvalidDataException($"'{name}' is not a NumPy .npy array (bad magic).");
        byte major = prefix[6];
        int headerLength;
        if (major == 1)
        {
            Span<byte> length = stackalloc byte[2];
            ReadExactly(stream, length, name, "header length");
            headerLength = BinaryPrimitives.ReadUInt16LittleEndian(length);
        }
        else if (major is 2 or 3)
        {
            Span<byte> length = stackalloc byte[4];
            ReadExactly(stream, length, name, "header length");
            uint value = BinaryPrimitives.ReadUInt32LittleEndian(length);
            if (value > 1 << 20) throw new InvalidDataException($"'{name}' has an implausible .npy header length {value}.");
            headerLength = (int)value;
        }
        else
        {
            throw new InvalidDataException($"'{name}' has unsupported .npy format version {major}.{prefix[7]}.");
        }
        var headerBytes = new byte[headerLength];
        ReadExactly(stream, headerBytes, name, "header");
        string header = (major == 3 ? Encoding.UTF8 : Encoding.Latin1).GetString(headerBytes);
        var (descr, fortranOrder, shape) = ParseHeader(header, name);

        int itemSize = descr[2] == '8' ? 8 : 4;
        bool bigEndian = descr[0] == '>';
        long count = 1;
        foreach (long dimension in shape)                                   // checked against the limit before multiplying: no overflow
        {
            if (dimension > 0 && count > Array.MaxLength / itemSize / dimension)
                throw new InvalidDataException($"'{name}' is too large: shape ({string.Join(", ", shape)}) of {itemSize}-byte values.");
            count *= dimension;
        }
        if (stream.CanSeek && count * itemSize > stream.Length - stream.Position)
            throw new InvalidDataException($"'{name}' is truncated: shape ({string.Join(", ", shape)}) needs {count * itemSize} bytes of data, " +
                                           $"{stream.Length - stream.Position} remain.");
        var raw = new byte[count * itemSize];
        ReadExactly(stream, raw, name, $"data ({count} values of '{descr}')");

        var values = new double[count];
        for (long i = 0; i < count; i++)
        {
            var item = raw.AsSpan((int)(i * itemSize), itemSize);
            values[i] = (itemSize, bigEndian) switch
            {
                (8, false) => BinaryPrimitives.ReadDoubleLittleEndian(item),
                (8, true) => BinaryPrimitives.ReadDoubleBigEndian(item),
                (_, false) => BinaryPrimitives.ReadSingleLittleEndian(item),
                (_, true) => BinaryPrimitives.ReadSingleBigEndian(item),
            };
        }
        return new NpyArray(fortranOrder ? ToCOrder(values, shape) : values, shape);
    }

    /// <summary>Writes <paramref name="values"/> (C order) with <paramref name="shape"/> as a version 1.0 '&lt;f8' array, as numpy.save does.</summary>
    public static void Write(Stream stream, ReadOnlySpan<double> values, ReadOnlySpan<long> shape)
    {
        long count = 1;
        foreach (long s in shape) count *= s;
        if (count != values.Length) throw new ArgumentException($"Shape ({string.Join(", ", shape.ToArray())}) needs {count} values; got {values.Length}.");
        string shapeText = shape.Length == 1 ? $"({shape[0]},)" : "(" + string.Join(", ", shape.ToArray()) + ")";
        string dict = $"{{'descr': '<f8', 'fortran_order': False, 'shape': {shapeText}, }}";
        int unpadded = Magic.Length + 2 + 2 + dict.Length + 1;              // magic, version, length, dict, '\n'
        int padding = (64 - unpadded % 64) % 64;
        string header = dict + new string(' ', padding) + "\n";
        stream.Write(Magic);
        stream.Write([1, 0]);
        Span<byte> length = stackalloc byte[2];
        BinaryPrimitives.WriteUInt16LittleEndian(length, checked((ushort)header.Length));
        stream.Write(length);
        stream.Write(Encoding.ASCII.GetBytes(header));
        var buffer = new byte[8 * 4096];
        for (int start = 0; start < values.Length; start += 4096)
        {
            int n = Math.Min(4096, values.Length - start);
            for (int i = 0; i < n; i++) BinaryPrimitives.WriteDoubleLittleEndian(buffer.AsSpan(8 * i, 8), values[start + i]);
            stream.Write(buffer, 0, 8 * n);
        }
    }

    private static (string Descr, bool FortranOrder, long[] Shape) ParseHeader(string header, string name)
    {
        var descr = DescrPattern().Match(header);
        var fortran = FortranPattern().Match(header);
        var shape = ShapePattern().Match(header);
        if (!descr.Success || !fortran.Success || !shape.Success)
            throw new InvalidDataException($"'{name}' has a malformed .npy header: {header.Trim()}");
        string type = descr.Groups[1].Value;
        if (type is not ("<f8" or "<f4" or ">f8" or ">f4"))
            throw new InvalidDataException($"'{name}' holds dtype '{type}'; FID statistics must be float64 ('<f8') or float32 ('<f4').");
        var dims = shape.Groups[1].Value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                        .Select(s => long.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out long v) ? v
                                     : throw new InvalidDataException($"'{name}' has a malformed .npy shape '({shape.Groups[1].Value})'."))
                        .ToArray();
        return (type, fortran.Groups[1].Value == "True", dims);
    }

    // A Fortran-ordered array of shape (d0, ..., dk) is the C-ordered array of the reversed shape, transposed.
    private static double[] ToCOrder(double[] values, long[] shape)
    {
        if (shape.Length < 2) return values;
        var result = new double[values.Length];
        var index = new long[shape.Length];
        for (long c = 0; c < values.Length; c++)
        {
            long f = 0, stride = 1;
            for (int axis = 0; axis < shape.Length; axis++) { f += index[axis] * stride; stride *= shape[axis]; }
            result[c] = values[f];
            for (int axis = shape.Length - 1; axis >= 0 && ++index[axis] == shape[axis]; axis--) index[axis] = 0;
        }
        return result;
    }

    private static void ReadExactly(Stream stream, Span<byte> buffer, string name, string what)
    {
        if (stream.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false) < buffer.Length)
            throw new InvalidDataException($"'{name}' is truncated: its {what} is incomplete.");
    }

    [GeneratedRegex(@"'descr'\s*:\s*'([^']*)'")]
    private static partial Regex DescrPattern();

    [GeneratedRegex(@"'fortran_order'\s*:\s*(True|False)")]
    private static partial Regex FortranPattern();

    [GeneratedRegex(@"'shape'\s*:\s*\(([^)]*)\)")]
    private static partial Regex ShapePattern();
}
