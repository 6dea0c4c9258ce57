// Data parallelism inside one process, for CPUs. A small U-ViT's matrices (the MNIST default's are 1,152 x 128) are too
// small for libtorch's OpenMP threads: every operation forks and joins them, and they sleep and wake in between. Worker
// threads that each run whole micro-batches with their own libtorch threads keep the cores busy without that traffic
// (docs/benchmarks.md, "training workers": a few percent faster on 2 cores). Each worker but the first back-propagates into its own replica of the network,
// so no two threads accumulate into one gradient; the gradients are then summed in worker order, and the result does not
// depend on which thread finishes first.
using System.Runtime.ExceptionServices;
using TorchSharp;
using UViT.MLNet.Core.Diffusion;
using UViT.MLNet.Core.Networks;
using UViT.MLNet.Core.Runtime;
using static TorchSharp.torch;

namespace UViT.MLNet.Core.Training;

/// <summary>
/// Dedicated threads that compute the loss gradients of a batch's micro-batches at the same time (CPU only): worker k runs
/// micro-batches k, k + W, k + 2W, ... on replica k of the network (replica 0 is the network itself), then the replicas'
/// gradients are added to the network's in worker order.
/// </summary>
internal sealed class TrainingWorkers : IDisposable
{
    private readonly UViTNetwork _network;
    private readonly UViTNetwork[] _replicas;            // [0] is _network
    private readonly Tensor[][] _parameters;             // [replica][i]: the same parameter name at every i
    private readonly Thread[] _threads;
    private readonly SemaphoreSlim[] _start;
    private readonly CountdownEvent _finished;
    private readonly double[] _losses;
    private readonly ExceptionDispatchInfo?[] _errors;
    private IReadOnlyList<(NoisedBatch Batch, double Weight)> _work = [];
    private volatile bool _stopping;

    /// <summary>Live TorchSharp tensors each worker thread holds after its last job (flat from step to step: nothing leaks).</summary>
    internal long[] LiveTensors { get; }

    /// <summary>libtorch CPU threads each worker uses.</summary>
    private int ThreadsPerWorker { get; }

    /// <param name="network">The network being trained; worker 0 back-propagates into it directly.</param>
    /// <param name="workers">Number of worker threads (at least 2).</param>
    /// <param name="threadsPerWorker">libtorch threads inside each worker.</param>
    public TrainingWorkers(UViTNetwork network, int workers, int threadsPerWorker)
    {
        if (workers < 2) throw new ArgumentOutOfRangeException(nameof(workers), $"Training workers need at least 2 threads; got {workers}.");
        if (threadsPerWorker < 1) throw new ArgumentOutOfRangeException(nameof(threadsPerWorker), $"Each worker needs at least one libtorch thread; got {threadsPerWorker}.");
        _network = network;
        ThreadsPerWorker = threadsPerWorker;
        var parameter = network.parameters().First();
        _replicas = new UViTNetwork[workers];
        _replicas[0] = network;
        for (int k = 1; k < workers; k++)
        {
            _replicas[k] = new UViTNetwork(network.Config, device: parameter.device, dtype: parameter.dtype) { UseFusedAttention = network.UseFusedAttention };
            _replicas[k].train();
        }
        var names = network.named_parameters().Select(p => p.name).ToArray();
        // Some TorchSharp layers hand out a new wrapper per call, which a caller's dispose scope would dispose: keep ours out of it.
        _parameters = _replicas.Select(r =>
        {
            var byName = r.named_parameters().ToDictionary(p => p.name, p => (Tensor)p.parameter.DetachFromDisposeScope());
            return names.Select(n => byName[n]).ToArray();
        }).ToArray();
        _start = Enumerable.Range(0, workers).Select(_ => new SemaphoreSlim(0)).ToArray();
        _finished = new CountdownEvent(workers);
        _losses = new double[workers];
        _errors = new ExceptionDispatchInfo?[workers];
        LiveTensors = new long[workers];

        // at::set_num_threads sets the calling thread's OpenMP team size and also the process-wide count that threads
        // starting later inherit: every worker sets its own, then the caller's count is put back for everyone else.
        int callerThreads = get_num_threads();
        using var ready = new CountdownEvent(workers);
        _threads = new Thread[workers];
        for (int k = 0; k < workers; k++)
        {
            int worker = k;
            _threads[k] = new Thread(() => Run(worker, ready)) { IsBackground = true, Name = $"uvit-training-worker-{k}" };
            _threads[k].Start();
        }
        ready.Wait();
        set_num_threads(callerThreads);
    }

    /// <summary>
    /// Back-propagates <paramref name="microBatches"/> (each loss scaled by its weight) into the network's gradients, which
    /// must be zero or absent; returns the sum of the weighted losses.
    /// </summary>
    /// <exception cref="Exception">The first worker's failure (in worker order), rethrown with its own stack trace.</exception>
    public double Backward(IReadOnlyList<(NoisedBatch Batch, double Weight)> microBatches)
    {
        CopyWeightsToReplicas();
        _work = microBatches;
        Array.Clear(_losses);
        Array.Clear(_errors);
        _finished.Reset();
        foreach (var start in _start) start.Release();
        _finished.Wait();
        foreach (var error in _errors) error?.Throw();
        AddReplicaGradients();
        return _losses.Sum();
    }

    private void Run(int worker, CountdownEvent ready)
    {
        // A thread's first libtorch call sets its team size from the process-wide count; make that happen first, then set ours.
        _ = get_num_threads();
        set_num_threads(ThreadsPerWorker);
        ready.Signal();
        var network = _replicas[worker];
        while (true)
        {
            _start[worker].Wait();
            if (_stopping) return;
            try
            {
                for (int i = worker; i < _work.Count; i += _replicas.Length)
                {
                    using var scope = NewDisposeScope();
                    var (batch, weight) = _work[i];
                    var loss = NoisePredictionLoss.Loss((x, t, y, c) => network.forward(x, t, y, c), batch);   // []
                    loss.Times(weight).backward();
                    _losses[worker] += loss.item<float>() * weight;
                }
            }
            catch (Exception e)
            {
                _errors[worker] = ExceptionDispatchInfo.Capture(e);
            }
            finally
            {
                LiveTensors[worker] = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
                _finished.Signal();
            }
        }
    }

    /// <summary>Replicas start every step from the network's current weights and with no gradients.</summary>
    private void CopyWeightsToReplicas()
    {
        using var noGrad = no_grad();
        for (int k = 1; k < _replicas.Length; k++)
        {
            for (int i = 0; i < _parameters[0].Length; i++)
            {
                _parameters[k][i].copy_(_parameters[0][i]);
                _parameters[k][i].grad = null;
            }
        }
    }

    /// <summary>network grad += replica k's grad, for k = 1, 2, ... in order.</summary>
    private void AddReplicaGradients()
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        for (int k = 1; k < _replicas.Length; k++)
        {
            for (int i = 0; i < _parameters[0].Length; i++)
            {
                if (_parameters[k][i].grad is not { } add) continue;
                if (_parameters[0][i].grad is { } sum) sum.PlusInPlace(add);
                else _parameters[0][i].grad = add.clone();
            }
        }
    }

    public void Dispose()
    {
        _stopping = true;
        foreach (var start in _start) start.Release();
        foreach (var thread in _threads) thread.Join();
        foreach (var start in _start) start.Dispose();
        _finished.Dispose();
        for (int k = 1; k < _replicas.Length; k++) _replicas[k].Dispose();
    }
}
