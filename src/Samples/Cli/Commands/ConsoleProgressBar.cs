namespace UViT.MLNet.Cli.Commands;

/// <summary>A one-line progress bar redrawn in place (plain lines when output is redirected).</summary>
internal sealed class ConsoleProgressBar(string title)
{
    private readonly System.Diagnostics.Stopwatch _clock = System.Diagnostics.Stopwatch.StartNew();
    private int _lastPercent = -1;

    public void Update(long done, long total, string detail)
    {
        int percent = total == 0 ? 100 : (int)(100 * done / total);
        var elapsed = _clock.Elapsed;
        var left = done == 0 ? TimeSpan.Zero : TimeSpan.FromSeconds(elapsed.TotalSeconds * (total - done) / done);
        string line = $"{title} [{new string('#', percent / 5),-20}] {done}/{total} {detail} {elapsed:mm\\:ss} elapsed, ~{left:mm\\:ss} left";
        if (Console.IsOutputRedirected)
        {
            if (percent / 10 != _lastPercent / 10 || done == total) Console.WriteLine(line);
        }
        else
        {
            Console.Write("\r" + line.PadRight(Math.Max(0, Console.WindowWidth - 1)));
        }
        _lastPercent = percent;
    }

    public void Done()
    {
        if (!Console.IsOutputRedirected) Console.WriteLine();
    }
}
