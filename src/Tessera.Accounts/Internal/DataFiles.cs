namespace Tessera.Accounts.Internal;

/// <summary>
/// Owner-only permissions for what the server keeps in its data directory (shared/CONTRACT.md §4): the directory,
/// when the server creates it, is 0700; the database, its <c>-wal</c> and <c>-shm</c>, and the signing key are 0600.
/// A no-op on Windows, where files inherit the directory's ACL.
/// </summary>
internal static class DataFiles
{
    public const UnixFileMode OwnerOnlyFile = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    public const UnixFileMode OwnerOnlyDirectory = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    private const UnixFileMode GroupAndOthers =
        UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute |
        UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;

    /// <summary>Creates the directory (and missing parents) owner-only; one that exists is left as it is.</summary>
    public static void EnsureDirectory(string path)
    {
        if (Directory.Exists(path))
        {
            return;
        }
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(path);
        }
        else
        {
            Directory.CreateDirectory(path, OwnerOnlyDirectory);
        }
    }

    /// <summary>
    /// Creates an empty file with mode 0600 unless it exists, so that whatever opens it next (SQLite) never creates it
    /// with the process's umask. SQLite gives a database's <c>-wal</c>, <c>-shm</c> and <c>-journal</c> the database
    /// file's own mode when it creates them.
    /// </summary>
    public static void CreateOwnerOnly(string path)
    {
        if (OperatingSystem.IsWindows() || File.Exists(path))
        {
            return;
        }
        try
        {
            using var _ = new FileStream(path, new FileStreamOptions
            {
                Mode = FileMode.CreateNew,
                Access = FileAccess.Write,
                UnixCreateMode = OwnerOnlyFile,
            });
        }
        catch (IOException) when (File.Exists(path))
        {
            // Another node sharing the directory created it first.
        }
    }

    /// <summary>
    /// Takes group and other permissions off an existing file (one created by an older version, or with a loose umask).
    /// Best effort: a file this user does not own is left as it is.
    /// </summary>
    public static void RestrictToOwner(string path)
    {
        if (OperatingSystem.IsWindows() || !File.Exists(path))
        {
            return;
        }
        try
        {
            var mode = File.GetUnixFileMode(path);
            if ((mode & GroupAndOthers) != 0)
            {
                File.SetUnixFileMode(path, mode & ~GroupAndOthers);
            }
        }
        catch (Exception ex) when (ex is UnauthorizedAccessException or IOException)
        {
        }
    }
}
