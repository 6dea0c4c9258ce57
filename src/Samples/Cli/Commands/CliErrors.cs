namespace UViT.MLNet.Cli.Commands;

/// <summary>Runs a verb and turns the library's expected failures into one readable line and exit code 1.</summary>
internal static class CliErrors
{
    public static int Run(Func<int> verb)
    {
        try
        {
            return verb();
        }
        catch (Exception e) when (e is InvalidDataException or FileNotFoundException or ArgumentException
                                       or UViT.MLNet.Core.Checkpoints.CheckpointMismatchException
                                       or UViT.MLNet.Core.Runtime.TorchRuntimeException)
        {
            Console.Error.WriteLine("error: " + e.Message);
            return 1;
        }
    }
}
