using UViT.MLNet.Transforms.Data;

namespace UViT.MLNet.Cli.Commands;

/// <summary>The 10,000 MNIST digits and the digit judge shipped beside the tool (data/mnist, copied from src/Samples/data/mnist).</summary>
internal static class ShippedMnist
{
    public static string Folder => Path.Combine(AppContext.BaseDirectory, "data", "mnist");

    /// <summary>The shipped digit judge's weights (written by <c>uvit judge train</c>).</summary>
    public static string JudgePath => Path.Combine(Folder, "digit-judge.safetensors");

    /// <summary>The shipped digits (the first <paramref name="limit"/> only, when given).</summary>
    public static IdxImageDataset Read(int? limit = null) =>
        IdxImageDataset.Read(Path.Combine(Folder, "images-idx3-ubyte.gz"), Path.Combine(Folder, "labels-idx1-ubyte.gz"), limit);
}
