// `uvit bench --cases store`: peak resident memory of Fit on 5,000 and 50,000 synthetic 32x32 RGB images (the source
// synthesises each row when its cursor reaches it, so it holds nothing), with the training data in a training store on
// disk and, for contrast, in memory. Each Fit runs in its own process (this tool running the store_fit case), because a
// process's peak resident set only grows.
using System.Diagnostics;
using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.Data;
using UViT.MLNet.Core.Networks;
using UViT.MLNet.Estimators;

namespace UViT.MLNet.Cli.Bench;

internal static class StoreBench
{
    /// <summary>A tiny unconditional network for 3x32x32 images: the case measures the data's memory, not the model's.</summary>
    private static UViTConfig Network => new() { ImageSize = 32, PatchSize = 4, InChannels = 3, EmbedDim = 64, Depth = 2, NumHeads = 2 };

    /// <summary>
    /// Runs store_fit for every size in <paramref name="sizes"/> with the disk store and then in memory, each in a child
    /// process; prints each child's line through <paramref name="emit"/> and returns the comparison.
    /// </summary>
    public static Dictionary<string, object> Run(int[] sizes, int steps, Action<string> emit)
    {
        var peaks = new Dictionary<string, double>();
        foreach (string mode in new[] { "disk", "memory" })
        {
            foreach (int size in sizes)
            {
                string line = Child(size, mode, steps);
                emit(line);
                using var record = JsonDocument.Parse(line);
                peaks[$"{mode}_{size}"] = record.RootElement.GetProperty("rss_peak_mib").GetDouble();
            }
        }
        var summary = new Dictionary<string, object> { ["case"] = "store", ["steps"] = steps, ["images"] = sizes };
        foreach (var (key, peak) in peaks) summary[$"rss_peak_mib_{key}"] = peak;
        summary["disk_peak_ratio_largest_over_smallest"] = Math.Round(peaks[$"disk_{sizes.Max()}"] / peaks[$"disk_{sizes.Min()}"], 3);
        summary["memory_peak_ratio_largest_over_smallest"] = Math.Round(peaks[$"memory_{sizes.Max()}"] / peaks[$"memory_{sizes.Min()}"], 3);
        return summary;
    }

    /// <summary>One Fit of <paramref name="steps"/> steps (batch 64) on <paramref name="size"/> synthetic images, in this process.</summary>
    /// <param name="mode">"disk" or "memory".</param>
    public static Dictionary<string, object> Fit(int size, string mode, int steps)
    {
        var store = mode.ToLowerInvariant() switch
        {
            "disk" => TrainingDataStore.Disk,
            "memory" => TrainingDataStore.Memory,
            _ => throw new ArgumentException($"--store-mode must be disk or memory; got '{mode}'."),
        };
        var mlContext = new MLContext(seed: 0);
        bool onDisk = false;
        mlContext.Log += (_, e) => onDisk |= e.Message.Contains("data in a training store on disk", StringComparison.Ordinal);
        var options = new UViTTrainerOptions { Network = Network, MaxSteps = steps, BatchSize = 64, Seed = 0, ReportInterval = steps, TrainingDataStore = store };
        var (_, before) = BenchMachine.ResidentMiB();
        var clock = Stopwatch.StartNew();
        using (mlContext.Diffusion().Trainers.UViT(options).Fit(Synthetic(mlContext, size))) { }
        var (peak, end) = BenchMachine.ResidentMiB();
        return new()
        {
            ["case"] = "store_fit", ["images"] = size, ["mode"] = mode, ["data_on_disk"] = onDisk, ["steps"] = steps, ["batch"] = 64,
            ["data_mib"] = Math.Round(size * 3.0 * 32 * 32 * sizeof(float) / 1048576, 1), ["seconds"] = Math.Round(clock.Elapsed.TotalSeconds, 1),
            ["rss_before_fit_mib"] = Math.Round(before, 1), ["rss_peak_mib"] = Math.Round(peak, 1), ["rss_end_mib"] = Math.Round(end, 1),
        };
    }

    /// <summary>One synthetic image: 3x32x32 bytes (0-255) drawn from a generator seeded by its row index.</summary>
    private sealed class SyntheticRow
    {
        public float[] Image { get; set; } = [];
    }

    /// <summary><paramref name="count"/> rows made as a cursor reaches them: nothing is held, and every pass sees the same rows.</summary>
    private static IDataView Synthetic(MLContext mlContext, int count)
    {
        var rows = Enumerable.Range(0, count).Select(i =>
        {
            var random = new Random(i);
            var pixels = new float[3 * 32 * 32];
            for (int k = 0; k < pixels.Length; k++) pixels[k] = random.Next(256);
            return new SyntheticRow { Image = pixels };
        });
        var schema = SchemaDefinition.Create(typeof(SyntheticRow));
        schema[nameof(SyntheticRow.Image)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, 3, 32, 32);
        return mlContext.Data.LoadFromEnumerable(rows, schema);
    }

    // Runs this tool's store_fit case in a child process; returns its JSON line.
    private static string Child(int size, string mode, int steps)
    {
        string host = Environment.ProcessPath ?? "dotnet";
        var info = new ProcessStartInfo(host) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        if (Path.GetFileNameWithoutExtension(host).Equals("dotnet", StringComparison.OrdinalIgnoreCase))
            info.ArgumentList.Add(typeof(StoreBench).Assembly.Location);   // run as `dotnet uvit.dll`
        foreach (string arg in new[] { "bench", "--cases", "store_fit", "--store-images", size.ToString(), "--store-mode", mode, "--store-steps", steps.ToString() })
            info.ArgumentList.Add(arg);
        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        process.WaitForExit();
        if (process.ExitCode != 0) throw new InvalidOperationException($"The store_fit run ({size} images, {mode}) failed (exit {process.ExitCode}): {errors.Result.Trim()}");
        return output.Result.Split('\n', StringSplitOptions.RemoveEmptyEntries).Last();
    }
}
