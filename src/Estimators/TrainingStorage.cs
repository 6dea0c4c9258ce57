// Decides, while the rows stream past, whether a Fit keeps its training data in memory or in training store files on disk
// (UViTTrainerOptions.TrainingDataStore): in Auto mode rows are held until they pass the memory budget, then the rows held
// so far are written to a store and the rest streamed after them, so one pass over the input suffices and no row count is
// needed in advance. Owns the store files of one Fit and deletes them (and a temp folder it made) when disposed.
using UViT.MLNet.Core.Training;

namespace UViT.MLNet.Estimators;

/// <summary>The rows a <see cref="TrainingStorage"/> collected: held in memory or opened from a store file, and their fingerprint.</summary>
internal sealed record CollectedRows(List<TrainingRow>? Rows, TrainingStore? Store, string Fingerprint);

internal sealed class TrainingStorage : IDisposable
{
    private readonly TrainingDataStore _mode;
    private readonly string? _directory;
    private readonly bool _ownsDirectory;
    private readonly List<string> _files = [];
    private string? _folder;

    /// <summary>Bytes of row values the memory path may still hold (the budget less what earlier collections keep).</summary>
    public long MemoryLeft { get; private set; }

    public TrainingStorage(UViTTrainerOptions options)
    {
        if (options.InMemoryDataLimitBytes < 0)
            throw new ArgumentOutOfRangeException(nameof(options), $"InMemoryDataLimitBytes must be at least 0; got {options.InMemoryDataLimitBytes}.");
        _mode = options.TrainingDataStore;
        MemoryLeft = options.InMemoryDataLimitBytes;
        _directory = options.TrainingStoreDirectory ?? options.CheckpointDirectory;
        _ownsDirectory = _directory is null;
    }

    /// <summary>Where the stores of this Fit are written (created on first use).</summary>
    private string Folder => _folder ??= Directory.CreateDirectory(_directory ?? Path.Combine(Path.GetTempPath(), "uvit-training-store-" + Guid.NewGuid().ToString("N"))).FullName;

    /// <summary>Reads <paramref name="rows"/> once, into memory or into the store file <c>training-{name}.store</c>.</summary>
    /// <param name="itemShape">Shape of one item of a row, e.g. [C, S, S] or [T, D].</param>
    /// <param name="classNames">Class names when rows carry labels; null otherwise.</param>
    /// <param name="rowTable">Whether a row may hold several items (text contexts of several captions).</param>
    public CollectedRows Collect(IEnumerable<TrainingRow> rows, string name, int[] itemShape, IReadOnlyList<string>? classNames, bool rowTable)
    {
        List<TrainingRow>? held = [];
        long bytes = 0;
        TrainingStoreWriter? writer = null;
        string? path = null;
        try
        {
            foreach (var row in rows)
            {
                if (writer is null && _mode != TrainingDataStore.Disk)
                {
                    held!.Add(row);
                    bytes += (long)row.Values.Length * sizeof(float);
                    if (_mode == TrainingDataStore.Memory || bytes <= MemoryLeft) continue;
                }
                if (writer is null)
                {
                    path = Path.Combine(Folder, $"training-{name}.store");
                    _files.Add(path);
                    writer = new TrainingStoreWriter(path, itemShape, classNames, rowTable);
                    foreach (var early in held!) writer.AppendRow(early.Values, early.Label);   // Auto: the rows held so far, this one included
                    if (_mode == TrainingDataStore.Disk) writer.AppendRow(row.Values, row.Label);
                    held = null;
                    continue;
                }
                writer.AppendRow(row.Values, row.Label);
            }
            if (writer is not null)
            {
                var header = writer.Commit();
                return new CollectedRows(null, TrainingStore.Open(path!), header.Fingerprint);
            }
        }
        finally
        {
            writer?.Dispose();
        }
        MemoryLeft -= bytes;
        using var fingerprint = new TrainingStoreFingerprint();
        long per = itemShape.Aggregate(1L, (a, b) => a * b);
        foreach (var row in held!) fingerprint.AddRow(row.Values, (int)(row.Values.Length / per), row.Label);
        return new CollectedRows(held, null, fingerprint.Current());
    }

    /// <summary>Deletes the store files of this Fit, and the temp folder when this made one.</summary>
    public void Dispose()
    {
        foreach (string file in _files)
        {
            if (File.Exists(file)) File.Delete(file);
        }
        if (_ownsDirectory && _folder is not null && Directory.Exists(_folder) && !Directory.EnumerateFileSystemEntries(_folder).Any()) Directory.Delete(_folder);
    }
}
