using System.Runtime.InteropServices;
using UViT.MLNet.Core.Checkpoints;
using UViT.MLNet.Core.Runtime;
using UViT.MLNet.Core.Training;

namespace UViT.MLNet.Cli.Commands;

/// <summary>
/// Runs a verb and turns every failure into one <c>error:</c> line and a documented exit code (docs/cli.md): 1 bad input or
/// setting, 2 usage error (from the parser), 3 non-finite numbers (training diverged, NaN samples), 4 out of memory, 5 internal error. The stack trace is printed only with <c>--verbose</c>.
/// </summary>
internal static class CliErrors
{
    public const int BadInput = 1;
    public const int UsageError = 2;
    public const int Diverged = 3;
    public const int OutOfMemory = 4;
    public const int InternalError = 5;

    /// <summary>Set from the root's <c>--verbose</c> option before the verb runs.</summary>
    public static bool Verbose { get; set; }

    public static int Run(Func<int> verb)
    {
        try
        {
            return verb();
        }
        catch (Exception e)
        {
            var (code, message) = Classify(e);
            Console.Error.WriteLine("error: " + message);
            if (Verbose) Console.Error.WriteLine(e);
            return code;
        }
    }

    /// <summary>The exit code and the one-line message for <paramref name="e"/> (the innermost meaningful exception).</summary>
    internal static (int Code, string Message) Classify(Exception e)
    {
        while (e is AggregateException { InnerException: { } } || e is System.Reflection.TargetInvocationException { InnerException: { } } )
            e = e.InnerException!;
        string message = e.Message.ReplaceLineEndings(" ");
        return e switch
        {
            TrainingDivergedException => (Diverged, message),
            // A verb touched TorchSharp before TorchRuntime.EnsureLoaded could explain a missing or unloadable libtorch.
            TypeInitializationException { TypeName: "TorchSharp.torch" } => (BadInput, TorchRuntime.LoadFailureMessage(TorchSharp.DeviceType.CPU, e.InnerException ?? e).ReplaceLineEndings(" ")),
            OutOfMemoryException => (OutOfMemory, $"out of memory: {message} (try a smaller --batch-size, network or image size)"),
            ExternalException when IsOutOfMemory(message) => (OutOfMemory, $"out of memory: {message} (try a smaller --batch-size, network or image size)"),
            ArithmeticException and not OverflowException => (Diverged, message),
            InvalidDataException or IOException or UnauthorizedAccessException or ArgumentException or OverflowException
                or CheckpointMismatchException or TorchRuntimeException or NotSupportedException => (BadInput, message),
            _ => (InternalError, $"internal error ({e.GetType().Name}): {message}" + (Verbose ? "" : " (run with --verbose for details)")),
        };
    }

    private static bool IsOutOfMemory(string message) =>
        message.Contains("out of memory", StringComparison.OrdinalIgnoreCase) || message.Contains("can't allocate memory", StringComparison.OrdinalIgnoreCase)
        || message.Contains("DefaultCPUAllocator", StringComparison.Ordinal);
}
