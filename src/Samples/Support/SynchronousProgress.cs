// The progress reporter of the samples, apps and notebooks.
namespace UViT.MLNet.Samples;

/// <summary>
/// Reports on the thread that calls <see cref="Report"/> (training or sampling): <see cref="Progress{T}"/> would post each report
/// to the thread pool, so lines could print out of order or after the run has finished.
/// </summary>
public sealed class SynchronousProgress<T>(Action<T> report) : IProgress<T>
{
    /// <inheritdoc/>
    public void Report(T value) => report(value);
}
