using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Tessera.Tests.Shared;

/// <summary>
/// A real PostgreSQL (Debian's server binaries) in a fresh cluster in a temp directory, on a loopback port: user
/// "tessera" with trust authentication, no fsync. Tests isolate by <see cref="CreateDatabaseAsync"/>, usually on
/// the one server per test process that <see cref="SharedAsync"/> starts. PostgreSQL refuses to run as root, so
/// as root it runs as the "postgres" system user (or nobody); the clients (createdb, psql) run as the caller.
/// </summary>
public sealed class PostgresServer : IAsyncDisposable
{
    private const string User = "tessera";
    private static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(30);
    private static readonly Lazy<Task<PostgresServer>> Shared = new(() => StartCoreAsync(shared: true));
    // Every running server, killed when the test process exits, so that a test that forgot to dispose (or the
    // shared server, which nothing disposes) leaves no postgres behind.
    private static readonly ConcurrentDictionary<PostgresServer, byte> Running = new();

    private readonly string _bin;
    private readonly string _directory;
    private readonly (int Uid, int Gid)? _runAs;
    private readonly bool _shared;
    private readonly Queue<string> _log = new();
    private Process? _process;

    // vstest kills the test host 100 ms after asking it to end (VSTEST_TESTHOST_SHUTDOWN_TIMEOUT): every server is
    // signalled first, and its directory removed by an rm of its own, which finishes even if this process is killed.
    static PostgresServer() => AppDomain.CurrentDomain.ProcessExit += (_, _) =>
    {
        var servers = Running.Keys.Where(s => s._process is { HasExited: false }).ToList();
        foreach (var server in servers)
        {
            // Immediate shutdown: it ends its backends and reaps them (a SIGKILLed postmaster leaves them to init).
            _ = LocalProcesses.Signal(server._process!.Id, LocalProcesses.SigQuit);
        }
        foreach (var server in Running.Keys)
        {
            if (servers.Contains(server) && !server._process!.WaitForExit(5000))
            {
                server.KillTree();
            }
            server.RemoveDirectoryInBackground();
        }
    };

    private PostgresServer(string bin, string directory, (int Uid, int Gid)? runAs, bool shared)
    {
        _bin = bin;
        _directory = directory;
        _runAs = runAs;
        _shared = shared;
        Port = LocalProcesses.FreePort();
    }

    public int Port { get; }

    /// <summary>The last lines the server wrote (its log goes to stderr), for diagnostics.</summary>
    public string Log
    {
        get
        {
            lock (_log)
            {
                return string.Join('\n', _log);
            }
        }
    }

    /// <summary>An Npgsql connection string for <paramref name="database"/> on this server.</summary>
    public string ConnectionString(string database = "postgres") =>
        $"Host=127.0.0.1;Port={Port.ToString(CultureInfo.InvariantCulture)};Username={User};Database={database};Pooling=true";

    /// <summary>A new server of its own (initdb takes a second or two; prefer <see cref="SharedAsync"/>).</summary>
    public static Task<PostgresServer> StartAsync() => StartCoreAsync(shared: false);

    /// <summary>
    /// The server shared by every test of this process, started on first use and killed when the process exits.
    /// Disposing it does nothing; it cannot be killed or restarted (start one of your own for that).
    /// </summary>
    public static Task<PostgresServer> SharedAsync() => Shared.Value;

    private static async Task<PostgresServer> StartCoreAsync(bool shared)
    {
        var bin = FindBinDirectory();
        var runAs = IsRoot() ? await UnprivilegedUserAsync() : null;
        var directory = Directory.CreateTempSubdirectory("tessera-pg-").FullName;
        var server = new PostgresServer(bin, directory, runAs, shared);
        try
        {
            if (runAs is (var uid, var gid))
            {
                // initdb creates data/ in it and postgres puts its Unix socket there, both as that user.
                await server.RunAsync(server.Command("chown", privileged: true,
                    $"{uid.ToString(CultureInfo.InvariantCulture)}:{gid.ToString(CultureInfo.InvariantCulture)}", directory));
            }
            // C.UTF-8 rather than the environment's locale, which may name one that is not generated here.
            await server.RunAsync(server.Command(Path.Combine(bin, "initdb"), privileged: false,
                "-D", server.DataDirectory, "-U", User, "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync", "--no-instructions"));
            await server.RestartAsync();
            return server;
        }
        catch
        {
            server.KillTree();
            Running.TryRemove(server, out _);
            server.DeleteDirectory();
            throw;
        }
    }

    private string DataDirectory => Path.Combine(_directory, "data");

    /// <summary>
    /// Starts (again, after <see cref="KillAsync"/>) on the same port and data directory, and waits for "database
    /// system is ready to accept connections" (after crash recovery, when it was killed).
    /// </summary>
    public async Task RestartAsync()
    {
        if (_process is { HasExited: false })
        {
            throw new InvalidOperationException("PostgreSQL is already running.");
        }
        _process?.Dispose();
        lock (_log)
        {
            _log.Clear();
        }
        var process = new Process
        {
            StartInfo = Command(Path.Combine(_bin, "postgres"), privileged: false,
                "-D", DataDirectory, "-h", "127.0.0.1", "-p", Port.ToString(CultureInfo.InvariantCulture), "-k", _directory,
                "-F", "-c", "fsync=off", "-c", "full_page_writes=off", "-c", "synchronous_commit=off", "-c", "max_connections=200"),
        };
        var ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        // Both streams are read for the server's whole life: a full pipe would block its logging.
        DataReceivedEventHandler onLine = (_, e) =>
        {
            if (e.Data is null)
            {
                return;
            }
            AppendLog(e.Data);
            if (e.Data.Contains("database system is ready to accept connections", StringComparison.Ordinal))
            {
                ready.TrySetResult();
            }
        };
        process.OutputDataReceived += onLine;
        process.ErrorDataReceived += onLine;
        process.Start();
        _process = process;
        Running[this] = 0;
        OrphanGuard.Watch(process.Id, _directory);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        var exited = process.WaitForExitAsync();
        var first = await Task.WhenAny(ready.Task, exited, Task.Delay(ReadyTimeout));
        if (first != ready.Task)
        {
            var why = first == exited
                ? $"it exited with status {process.ExitCode.ToString(CultureInfo.InvariantCulture)}"
                : $"not within {ReadyTimeout.TotalSeconds.ToString(CultureInfo.InvariantCulture)} s";
            await KillTreeAsync();
            throw new InvalidOperationException($"PostgreSQL did not become ready on port {Port.ToString(CultureInfo.InvariantCulture)} ({why}). Its log:\n{Log}");
        }
    }

    /// <summary>Creates a database with a new unique name (createdb) and returns its connection string.</summary>
    public async Task<string> CreateDatabaseAsync()
    {
        var name = "test_" + Guid.NewGuid().ToString("N");
        await RunAsync(Client("createdb", name));
        return ConnectionString(name);
    }

    /// <summary>Runs <paramref name="sql"/> with psql (stopping at the first error) and returns its unaligned output.</summary>
    public async Task<string> PsqlAsync(string sql, string database = "postgres") =>
        (await RunAsync(Client("psql", "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-d", database, "-c", sql))).TrimEnd('\n');

    /// <summary>SIGKILL of the server and its backends, as a crash; <see cref="RestartAsync"/> brings it back.</summary>
    public Task KillAsync()
    {
        if (_shared)
        {
            throw new InvalidOperationException("The shared PostgreSQL server cannot be killed; start one of your own.");
        }
        return KillTreeAsync();
    }

    /// <summary>Fast shutdown (SIGINT: backends are ended, then it exits), SIGKILL after 5 s; deletes the cluster.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_shared)
        {
            return;
        }
        if (_process is { HasExited: false } process)
        {
            _ = LocalProcesses.Signal(process.Id, LocalProcesses.SigInt);
            try
            {
                await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(5));
            }
            catch (TimeoutException)
            {
                await KillTreeAsync();
            }
        }
        _process?.Dispose();
        Running.TryRemove(this, out _);
        DeleteDirectory();
    }

    private async Task KillTreeAsync()
    {
        var pids = KillTree();
        if (_process is { } process)
        {
            await process.WaitForExitAsync();
        }
        // The backends are no longer our children: wait until they are gone (or zombies), since a restart refuses
        // to start while a process of the old server still holds its shared memory.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (pids.Any(IsAlive) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20);
        }
    }

    /// <summary>SIGKILL of postgres and its children; returns the children's PIDs.</summary>
    private List<int> KillTree()
    {
        if (_process is not { HasExited: false } process)
        {
            return [];
        }
        // Stopped first, so that it forks nothing between the listing of its children and its death.
        _ = LocalProcesses.Signal(process.Id, LocalProcesses.SigStop);
        var children = ChildrenOf(process.Id);
        _ = LocalProcesses.Signal(process.Id, LocalProcesses.SigKill);
        foreach (var child in children)
        {
            _ = LocalProcesses.Signal(child, LocalProcesses.SigKill);
        }
        return children;
    }

    private static List<int> ChildrenOf(int parent)
    {
        var children = new List<int>();
        foreach (var entry in Directory.EnumerateDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(entry), NumberStyles.None, CultureInfo.InvariantCulture, out var pid)
                && Stat(pid) is { } stat && stat.Parent == parent)
            {
                children.Add(pid);
            }
        }
        return children;
    }

    private static bool IsAlive(int pid) => Stat(pid) is { State: not 'Z' };

    /// <summary>State and parent PID from /proc/PID/stat ("pid (comm) S ppid …"; comm may hold spaces and parentheses).</summary>
    private static (char State, int Parent)? Stat(int pid)
    {
        string text;
        try
        {
            text = File.ReadAllText($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/stat");
        }
        catch (IOException)
        {
            return null;
        }
        var fields = text[(text.LastIndexOf(')') + 2)..].Split(' ');
        return (fields[0][0], int.Parse(fields[1], CultureInfo.InvariantCulture));
    }

    private void DeleteDirectory()
    {
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
            // Best effort: a leftover temp directory is harmless.
        }
    }

    private void RemoveDirectoryInBackground()
    {
        try
        {
            var rm = new ProcessStartInfo("rm") { ArgumentList = { "-rf", "--", _directory } };
            Process.Start(rm)?.Dispose();
        }
        catch (System.ComponentModel.Win32Exception)
        {
            DeleteDirectory();
        }
    }

    private void AppendLog(string line)
    {
        lock (_log)
        {
            _log.Enqueue(line);
            if (_log.Count > 200)
            {
                _log.Dequeue();
            }
        }
    }

    private ProcessStartInfo Client(string program, params string[] args) =>
        Command(Path.Combine(_bin, program), privileged: true,
            ["-h", "127.0.0.1", "-p", Port.ToString(CultureInfo.InvariantCulture), "-U", User, .. args]);

    /// <summary>
    /// A command; unless <paramref name="privileged"/>, as root it runs as <see cref="_runAs"/> through setpriv,
    /// which execs it (unlike runuser, which forks and waits), so that the PID we signal is the server's own.
    /// </summary>
    private ProcessStartInfo Command(string file, bool privileged, params string[] args)
    {
        var start = new ProcessStartInfo
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            // The unprivileged user may not be able to enter the test's working directory.
            WorkingDirectory = _directory,
        };
        if (!privileged && _runAs is (var uid, var gid))
        {
            start.FileName = "setpriv";
            foreach (var arg in new[] { $"--reuid={uid.ToString(CultureInfo.InvariantCulture)}", $"--regid={gid.ToString(CultureInfo.InvariantCulture)}", "--clear-groups", "--", file })
            {
                start.ArgumentList.Add(arg);
            }
        }
        else
        {
            start.FileName = file;
        }
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }
        // PGHOST, PGDATABASE, PGOPTIONS … of the environment must not redirect or alter our commands.
        foreach (var name in start.Environment.Keys.Where(k => k.StartsWith("PG", StringComparison.Ordinal)).ToList())
        {
            start.Environment.Remove(name);
        }
        return start;
    }

    /// <summary>Runs a command to its end and returns its stdout; throws with its output when it fails.</summary>
    private async Task<string> RunAsync(ProcessStartInfo start)
    {
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        try
        {
            await process.WaitForExitAsync().WaitAsync(CommandTimeout);
        }
        catch (TimeoutException)
        {
            process.Kill(entireProcessTree: true);
            throw new InvalidOperationException($"{Describe(start)} did not finish within {CommandTimeout.TotalSeconds.ToString(CultureInfo.InvariantCulture)} s.");
        }
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException(
                $"{Describe(start)} failed with status {process.ExitCode.ToString(CultureInfo.InvariantCulture)}:\n{await stderr}{await stdout}");
        }
        return await stdout;
    }

    private static string Describe(ProcessStartInfo start) => string.Join(' ', [start.FileName, .. start.ArgumentList]);

    private static string FindBinDirectory()
    {
        var versions = Directory.Exists("/usr/lib/postgresql") ? Directory.GetDirectories("/usr/lib/postgresql") : [];
        var bin = versions
            .Select(dir => (Dir: dir, Ok: decimal.TryParse(Path.GetFileName(dir), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var v), Version: v))
            .Where(x => x.Ok && File.Exists(Path.Combine(x.Dir, "bin", "initdb")) && File.Exists(Path.Combine(x.Dir, "bin", "postgres")))
            .OrderByDescending(x => x.Version)
            .Select(x => Path.Combine(x.Dir, "bin"))
            .FirstOrDefault();
        return bin ?? throw new InvalidOperationException(
            "PostgreSQL's server binaries were not found (/usr/lib/postgresql/<version>/bin/initdb and postgres): " +
            "install the Debian package postgresql (scripts/setup.sh does).");
    }

    private static bool IsRoot()
    {
        // "Uid:\treal\teffective\tsaved\tfs"; PostgreSQL checks the effective one.
        var line = File.ReadLines("/proc/self/status").First(l => l.StartsWith("Uid:", StringComparison.Ordinal));
        return line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries)[2] == "0";
    }

    /// <summary>The uid and gid of "postgres" (Debian's package creates it), else of "nobody".</summary>
    private static async Task<(int Uid, int Gid)?> UnprivilegedUserAsync()
    {
        foreach (var name in new[] { "postgres", "nobody" })
        {
            var start = new ProcessStartInfo("getent") { RedirectStandardOutput = true, RedirectStandardError = true };
            start.ArgumentList.Add("passwd");
            start.ArgumentList.Add(name);
            using var process = Process.Start(start)!;
            var entry = await process.StandardOutput.ReadToEndAsync();
            await process.WaitForExitAsync();
            var fields = entry.Split(':');
            if (process.ExitCode == 0 && fields.Length > 3)
            {
                return (int.Parse(fields[2], CultureInfo.InvariantCulture), int.Parse(fields[3], CultureInfo.InvariantCulture));
            }
        }
        throw new InvalidOperationException("Running as root, and neither a postgres nor a nobody user exists to run PostgreSQL as.");
    }

}
