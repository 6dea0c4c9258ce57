using System.Runtime.InteropServices;

namespace UViT.MLNet.Cli.Commands;

/// <summary>
/// Turns the first Ctrl+C (SIGINT) or SIGTERM (what `kill`, systemd and container runtimes send) into a cancellation, so
/// that training stops at the next step and still writes its checkpoint and outputs; a second signal ends the process at once.
/// </summary>
internal sealed class StopSignals : IDisposable
{
    private readonly CancellationTokenSource _cancel;
    private readonly PosixSignalRegistration[] _registrations;

    public StopSignals(CancellationTokenSource cancel)
    {
        _cancel = cancel;
        _registrations = [PosixSignalRegistration.Create(PosixSignal.SIGINT, Handle), PosixSignalRegistration.Create(PosixSignal.SIGTERM, Handle)];
    }

    private void Handle(PosixSignalContext context)
    {
        if (_cancel.IsCancellationRequested) return;                       // a second signal: the default action, quit now
        context.Cancel = true;
        Console.Error.WriteLine($"\nstopping after this step ({context.Signal}; send it again to quit at once)...");
        _cancel.Cancel();
    }

    public void Dispose()
    {
        foreach (var registration in _registrations) registration.Dispose();
    }
}
