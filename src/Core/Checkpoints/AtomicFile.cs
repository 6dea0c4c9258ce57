using System.Runtime.InteropServices;

namespace UViT.MLNet.Core.Checkpoints;

/// <summary>
/// Writes a file so that readers see either the old content or the complete new one, never a half-written file, even after a
/// kill or a power loss: the content goes to a temp file in the same folder, is flushed to disk, is renamed over the target,
/// and the folder itself is flushed so that the rename is durable. Temp files left by a killed earlier write are removed.
/// </summary>
public static class AtomicFile
{
    /// <summary>Writes <paramref name="path"/> through <paramref name="write"/>; on any failure the target is untouched.</summary>
    /// <param name="previousPath">
    /// Where the file being replaced is kept (itself replaced atomically), so that the last good version survives a new one
    /// that turns out bad; null = the old content is dropped. <paramref name="path"/> exists at every moment of the swap.
    /// </param>
    public static void Write(string path, Action<Stream> write, string? previousPath = null)
    {
        string fullPath = Path.GetFullPath(path);
        string folder = Path.GetDirectoryName(fullPath)!;
        Directory.CreateDirectory(folder);
        RemoveStaleTemps(fullPath);
        string temp = Path.Combine(folder, $".{Path.GetFileName(fullPath)}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                write(stream);
                stream.Flush(flushToDisk: true);
            }
            if (previousPath is not null && File.Exists(fullPath))
            {
                string previous = Path.GetFullPath(previousPath);
                if (File.Exists(previous)) File.Delete(previous);
                File.Replace(temp, fullPath, previous);                    // keeps the old file as `previous`
            }
            else
            {
                File.Move(temp, fullPath, overwrite: true);
            }
            FlushFolder(folder);
        }
        catch
        {
            if (File.Exists(temp)) File.Delete(temp);
            throw;
        }
    }

    /// <summary>The temp-file names <see cref="Write"/> uses for <paramref name="fullPath"/>, as a search pattern in its folder.</summary>
    private static string TempPattern(string fullPath) => $".{Path.GetFileName(fullPath)}.*.tmp";

    /// <summary>Deletes temp files of <paramref name="fullPath"/> that a killed write left behind (a process holds at most one).</summary>
    private static void RemoveStaleTemps(string fullPath)
    {
        foreach (string stale in Directory.EnumerateFiles(Path.GetDirectoryName(fullPath)!, TempPattern(fullPath)))
        {
            try { File.Delete(stale); }
            catch (IOException) { }                                       // in use by a concurrent writer: leave it to that one
            catch (UnauthorizedAccessException) { }
        }
    }

    /// <summary>fsync of the folder, so that a rename into it survives a power loss (POSIX only; Windows renames are journaled).</summary>
    internal static void FlushFolder(string folder)
    {
        if (!OperatingSystem.IsLinux() && !OperatingSystem.IsMacOS()) return;
        try
        {
            int fd = Posix.open(folder, 0 /* O_RDONLY */);
            if (fd < 0) return;                                          // a folder that cannot be opened cannot be flushed either
            try { Posix.fsync(fd); }
            finally { Posix.close(fd); }
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            // A C library under another name: the rename has happened, only its durability across a power loss is not forced.
        }
    }

    private static class Posix
    {
        [DllImport("libc", SetLastError = true)]
        public static extern int open([MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags);

        [DllImport("libc", SetLastError = true)]
        public static extern int fsync(int fd);

        [DllImport("libc")]
        public static extern int close(int fd);
    }
}
