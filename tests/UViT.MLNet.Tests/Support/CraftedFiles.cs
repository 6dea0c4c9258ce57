// Small hostile files built from a few bytes in the tests (no shipped blobs), shared by the reader and the CLI tests.
using System.Text;

namespace UViT.MLNet.Tests.Support;

internal static class CraftedFiles
{
    /// <summary>A pickle BINUNICODE opcode for <paramref name="text"/>.</summary>
    public static byte[] BinUnicode(string text) =>
        [(byte)'X', .. BitConverter.GetBytes(Encoding.UTF8.GetByteCount(text)), .. Encoding.UTF8.GetBytes(text)];

    /// <summary>
    /// A legacy torch.save file whose saved object is <paramref name="depth"/> dicts nested <c>{"a": {"a": ...}}</c>
    /// (100,000 levels take about 700 KB): magic number, protocol 1001, empty system info, the object, no storages.
    /// </summary>
    public static byte[] NestedLegacyPickle(int depth)
    {
        var file = new List<byte>();
        file.AddRange([0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, (byte)'.']);   // magic number
        file.AddRange([0x80, 0x02, (byte)'M', 0xe9, 0x03, (byte)'.']);                                                   // protocol 1001
        file.AddRange([0x80, 0x02, (byte)'}', (byte)'.']);                                                              // system info {}
        file.AddRange([0x80, 0x02]);
        for (int i = 0; i < depth; i++) file.AddRange([(byte)'}', .. BinUnicode("a")]);                                // {"a": ... (open)
        file.Add((byte)'}');
        for (int i = 0; i < depth; i++) file.Add((byte)'s');                                                            // ... } (close)
        file.Add((byte)'.');
        file.AddRange([0x80, 0x02, (byte)']', (byte)'.']);                                                              // storage keys []
        return [.. file];
    }

    /// <summary>A safetensors file: the header JSON, padded to 8 bytes, then <paramref name="data"/>.</summary>
    public static byte[] Safetensors(string header, byte[] data)
    {
        var json = Encoding.UTF8.GetBytes(header.PadRight((header.Length + 7) / 8 * 8));
        return [.. BitConverter.GetBytes((long)json.Length), .. json, .. data];
    }
}
