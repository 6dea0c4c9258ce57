// Malformed calls to the network fail with messages that name the argument and the shapes involved.
using UViT.MLNet.Core.Networks;
using static TorchSharp.torch;

namespace UViT.MLNet.Tests.Networks;

[TestClass]
public sealed class UViTInputTests
{
    private static readonly UViTConfig ClassConfig = new() { ImageSize = 8, PatchSize = 2, InChannels = 3, EmbedDim = 16, Depth = 2, NumHeads = 2, NumClasses = 5 };
    private static readonly UViTConfig TextConfig = new() { ImageSize = 8, PatchSize = 2, InChannels = 4, EmbedDim = 16, Depth = 2, NumHeads = 2, ClipDim = 6, NumClipTokens = 3 };

    [TestMethod]
    public void WrongImageShapeNamesExpectedAndActual()
    {
        using var model = new UViTNetwork(ClassConfig);
        using var x = zeros(2, 3, 16, 16);
        var error = Assert.ThrowsExactly<ArgumentException>(() => model.forward(x, zeros(2), tensor(new long[] { 0, 1 })));
        StringAssert.Contains(error.Message, "[B, 3, 8, 8]");
        StringAssert.Contains(error.Message, "[2, 3, 16, 16]");
        Assert.ThrowsExactly<ArgumentException>(() => model.forward(zeros(2, 1, 8, 8), zeros(2), tensor(new long[] { 0, 1 })));
        Assert.ThrowsExactly<ArgumentException>(() => model.forward(zeros(2, 3, 8, 8), zeros(3), tensor(new long[] { 0, 1 })));
    }

    [TestMethod]
    public void LabelsOutOfRangeAreRejected()
    {
        using var model = new UViTNetwork(ClassConfig);
        var error = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => model.forward(zeros(2, 3, 8, 8), zeros(2), tensor(new long[] { 0, 5 })));
        StringAssert.Contains(error.Message, "[0, 4]");
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => model.forward(zeros(1, 3, 8, 8), zeros(1), tensor(new long[] { -1 })));
        Assert.ThrowsExactly<ArgumentException>(() => model.forward(zeros(2, 3, 8, 8), zeros(2), tensor(new float[] { 0, 1 })));
    }

    [TestMethod]
    public void ClassModelWithoutLabelsIsRejected()
    {
        using var model = new UViTNetwork(ClassConfig);
        var error = Assert.ThrowsExactly<ArgumentNullException>(() => model.forward(zeros(2, 3, 8, 8), zeros(2)));
        StringAssert.Contains(error.Message, "class-conditional");
    }

    [TestMethod]
    public void TextModelNeedsContextOfTheRightShape()
    {
        using var model = new UViTNetwork(TextConfig);
        Assert.ThrowsExactly<ArgumentNullException>(() => model.forward(zeros(2, 4, 8, 8), zeros(2)));
        var error = Assert.ThrowsExactly<ArgumentException>(() => model.forward(zeros(2, 4, 8, 8), zeros(2), context: zeros(2, 77, 6)));
        StringAssert.Contains(error.Message, "[2, 3, 6]");
        using var output = model.forward(zeros(2, 4, 8, 8), zeros(2), context: zeros(2, 3, 6));
        CollectionAssert.AreEqual(new long[] { 2, 4, 8, 8 }, output.shape);
    }

    [TestMethod]
    public void UnconditionalModelRejectsLabels()
    {
        using var model = new UViTNetwork(ClassConfig with { NumClasses = -1 });
        Assert.ThrowsExactly<ArgumentException>(() => model.forward(zeros(1, 3, 8, 8), zeros(1), tensor(new long[] { 0 })));
    }

    [TestMethod]
    public void InvalidConfigurationsAreRejected()
    {
        Assert.ThrowsExactly<ArgumentException>(() => new UViTNetwork(ClassConfig with { ImageSize = 9 }));
        Assert.ThrowsExactly<ArgumentException>(() => new UViTNetwork(ClassConfig with { NumHeads = 3 }));
        Assert.ThrowsExactly<ArgumentException>(() => new UViTNetwork(TextConfig with { NumClasses = 10 }));
    }
}
