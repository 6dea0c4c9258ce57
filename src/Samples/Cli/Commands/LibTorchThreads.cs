namespace UViT.MLNet.Cli.Commands;

/// <summary>The <c>--threads</c> option: checked here, because libtorch aborts the process on 0 or a negative count.</summary>
internal static class LibTorchThreads
{
    /// <summary>Most threads accepted (far above any machine's cores; a typo such as 1000000 would only slow libtorch down).</summary>
    private const int Max = 4096;

    /// <summary>Throws an <see cref="ArgumentException"/> unless <paramref name="threads"/> is null or in [1, 4096].</summary>
    public static void Validate(int? threads)
    {
        if (threads is not null and (< 1 or > Max)) throw new ArgumentException($"--threads must lie in [1, {Max}]; got {threads}.");
    }

    /// <summary>Validates and applies <paramref name="threads"/> (null: libtorch's default, all cores).</summary>
    public static void Apply(int? threads)
    {
        Validate(threads);
        UViT.MLNet.Core.Runtime.TorchRuntime.EnsureLoaded();   // first: the OpenMP defaults must precede libtorch's load
        if (threads is int t) TorchSharp.torch.set_num_threads(t);
    }
}
