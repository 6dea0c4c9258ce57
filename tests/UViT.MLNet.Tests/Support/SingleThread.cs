using static TorchSharp.torch;

namespace UViT.MLNet.Tests.Support;

/// <summary>
/// Runs a block with libtorch on one thread and restores the previous count: tiny tensors (the diffusion tests' models)
/// run up to 10x faster without OpenMP hand-offs, especially next to another busy process on a 2-core machine.
/// </summary>
internal sealed class SingleThread : IDisposable
{
    private readonly int _previous = get_num_threads();

    public SingleThread() => set_num_threads(1);

    public void Dispose() => set_num_threads(_previous);
}
