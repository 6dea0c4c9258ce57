// Loading a UViT.MLNet zip in an MLContext that was never registered: ML.NET's Model.Load cannot find our loaders on its own
// (its catalog reads only its internal [assembly: LoadableClass] attributes), so LoadChecked registers first, and names a
// missing loader plainly when one is still missing.
using System.IO.Compression;
using Microsoft.ML;
using UViT.MLNet.Transforms.Generation;
using UViT.MLNet.Transforms.Persistence;

namespace UViT.MLNet.Tests.Pipeline;

[TestClass]
public sealed class RegistrationTests
{
    public TestContext TestContext { get; set; } = null!;

    private static string Zip => ModelZipVersionTests.VersionOneZip;   // any zip holding our transformers

    [TestMethod]
    public void PlainModelLoadNeedsRegisterUViT()
    {
        // Pins the ML.NET behaviour the docs describe: should a later ML.NET find our loaders by itself, this fails and the
        // RegisterUViT requirement can go.
        var error = Assert.Throws<Exception>(() => new MLContext(seed: 1).Model.Load(Zip, out _));
        var messages = new List<string>();
        for (var inner = error; inner is not null; inner = inner.InnerException) messages.Add(inner.Message);
        Assert.IsTrue(messages.Any(m => m.StartsWith("Couldn't load model", StringComparison.Ordinal)), string.Join(" <- ", messages));
        var model = new MLContext(seed: 1).RegisterUViT().Model.Load(Zip, out _);
        (model as IDisposable)?.Dispose();
    }

    [TestMethod]
    public void LoadCheckedRegistersAFreshContext()
    {
        var model = new MLContext(seed: 1).LoadChecked(Zip, out _);
        Assert.IsNotNull(((IEnumerable<ITransformer>)model).OfType<UViTGenerationTransformer>().SingleOrDefault());
        (model as IDisposable)?.Dispose();
    }

    [TestMethod]
    public void LoadCheckedNamesATransformerNoLoaderKnows()
    {
        // The same zip with the generator's loader signature changed to one nobody registers (same length, so the header stays valid).
        string zip = Path.Combine(TestContext.TestRunDirectory ?? Path.GetTempPath(), Guid.NewGuid().ToString("N") + "_unknown.zip");
        File.Copy(Zip, zip);
        using (var archive = ZipFile.Open(zip, ZipArchiveMode.Update))
        {
            foreach (var entry in archive.Entries.Where(e => e.FullName.EndsWith("Model.key", StringComparison.Ordinal)).ToList())
            {
                byte[] bytes;
                using (var read = entry.Open()) { using var copy = new MemoryStream(); read.CopyTo(copy); bytes = copy.ToArray(); }
                byte[] from = System.Text.Encoding.ASCII.GetBytes("UViTGeneration"), to = System.Text.Encoding.ASCII.GetBytes("UViTNoSuchLoad");
                int at = bytes.AsSpan().IndexOf(from);
                if (at < 0) continue;
                Assert.AreEqual(from.Length, to.Length);
                to.CopyTo(bytes, at);
                entry.Delete();
                using var write = archive.CreateEntry(entry.FullName).Open();
                write.Write(bytes);
            }
        }
        var error = Assert.ThrowsExactly<InvalidDataException>(() => new MLContext(seed: 1).LoadChecked(zip, out _));
        StringAssert.Contains(error.Message, "no loader in this process knows");
    }
}
