// Tiny crafted files whose header fields lie (#18 items 7, 8, 12): each reader checks every length, count, shape and offset
// against the file's size before it allocates or reads, and fails with an InvalidDataException that names the file.
using System.Buffers.Binary;
using System.Text;
using UViT.MLNet.Core.Checkpoints;
using UViT.MLNet.Core.Evaluation;
using UViT.MLNet.Core.Training;
using UViT.MLNet.Samples;
using UViT.MLNet.Tests.Support;

namespace UViT.MLNet.Tests.Checkpoints;

[TestClass]
public sealed class CraftedFileTests
{
    public TestContext TestContext { get; set; } = null!;

    private string Write(string name, byte[] bytes)
    {
        string path = Path.Combine(TestContext.TestRunDirectory ?? Path.GetTempPath(), Guid.NewGuid().ToString("N") + "_" + name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    [TestMethod]
    public void SafetensorsOffsetsOutsideTheDataAreRefused()
    {
        var data = new byte[16];
        string[] headers =
        [
            """{"w":{"dtype":"F32","shape":[2],"data_offsets":[-8,0]}}""",          // reads the header as weights
            """{"w":{"dtype":"F32","shape":[2],"data_offsets":[8,24]}}""",          // past the end
            """{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}""",           // size does not match the shape
            """{"w":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,16]}}""",   // shape product overflows
            """{"w":{"dtype":"Q4","shape":[2],"data_offsets":[0,8]}}""",            // unknown dtype
        ];
        foreach (string header in headers)
        {
            string path = Write("bad.safetensors", CraftedFiles.Safetensors(header, data));
            var error = Assert.ThrowsExactly<InvalidDataException>(() => StateDictFile.Read(path), header);
            StringAssert.Contains(error.Message, path, header);
        }
        string good = Write("good.safetensors", CraftedFiles.Safetensors("""{"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}}""", data));
        var state = StateDictFile.Read(good);
        CollectionAssert.AreEqual(new long[] { 2, 2 }, state["w"].shape);
        state["w"].Dispose();
    }

    /// <summary>A moments cache header (format in MomentsCacheHeader.cs) with the given fields and no class names.</summary>
    private static byte[] MomentsHeader(long count, int channels, int height, int width, int flags, int classCount)
    {
        var bytes = new byte[52];
        "UVITMOMS"u8.CopyTo(bytes);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(8), 1);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(12), 1);
        BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(16), count);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(24), channels);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(28), height);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(32), width);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(36), flags);
        BinaryPrimitives.WriteDoubleLittleEndian(bytes.AsSpan(40), 0.18215);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(48), classCount);
        return bytes;
    }

    [TestMethod]
    public void MomentsCacheCountsThatWrapOrExceedTheFileAreRefused()
    {
        // 2^61 records of 8 bytes wrap to 0 bytes: the 52-byte file passed the exact-length check and crashed randperm.
        string wrapped = Write("wrapped.moments", MomentsHeader(1L << 61, 2, 1, 1, 0, 0));
        StringAssert.Contains(Assert.ThrowsExactly<InvalidDataException>(() => MomentsCache.Open(wrapped).Dispose()).Message, "records");
        string huge = Write("huge.moments", MomentsHeader(1, int.MaxValue - 1, int.MaxValue, int.MaxValue, 0, 0));
        Assert.ThrowsExactly<InvalidDataException>(() => MomentsCache.Open(huge).Dispose());
        string classes = Write("classes.moments", MomentsHeader(0, 2, 1, 1, 2, int.MaxValue));   // 2^31-1 class names in 52 bytes
        StringAssert.Contains(Assert.ThrowsExactly<InvalidDataException>(() => MomentsCache.Open(classes).Dispose()).Message, "class names");
    }

    [TestMethod]
    public void NpyShapeThatOverflowsIsRefused()
    {
        foreach (string shape in new[] { "(4611686018427387904, 4)", "(3037000500, 3037000500)", "(1000, 1000)" })
        {
            string dict = $"{{'descr': '<f8', 'fortran_order': False, 'shape': {shape}, }}";
            string header = dict.PadRight(64 - 10 - 1) + "\n";
            byte[] bytes = [0x93, .. "NUMPY"u8, 1, 0, .. BitConverter.GetBytes((ushort)header.Length), .. Encoding.ASCII.GetBytes(header), .. new byte[16]];
            var error = Assert.ThrowsExactly<InvalidDataException>(() => NpyFormat.Read(new MemoryStream(bytes), "crafted.npy"), shape);
            StringAssert.Contains(error.Message, "crafted.npy");
        }
    }

    [TestMethod]
    public void IdxNegativeHeaderFieldsNameTheFile()
    {
        static byte[] Idx(int magic, params int[] fields)
        {
            var bytes = new byte[4 + 4 * fields.Length + 8];
            BinaryPrimitives.WriteInt32BigEndian(bytes, magic);
            for (int i = 0; i < fields.Length; i++) BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(4 + 4 * i), fields[i]);
            return bytes;
        }
        foreach (var (count, height, width) in new[] { (-1, 2, 2), (1, -2, 2), (2, int.MaxValue, int.MaxValue) })
        {
            string images = Write("images.idx3", Idx(0x803, count, height, width));
            string labels = Write("labels.idx1", Idx(0x801, count));
            var error = Assert.ThrowsExactly<InvalidDataException>(() => IdxImageDataset.Read(images, labels), $"{count} {height}x{width}");
            StringAssert.Contains(error.Message, "images.idx3");
        }
    }
}
