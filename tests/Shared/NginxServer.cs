using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Tessera.Tests.Shared;

/// <summary>
/// A real nginx (Debian's) with a test's own http-level configuration, in a temp directory, on a loopback port:
/// every <c>{PORT}</c> in the configuration becomes <see cref="Port"/>, e.g.
/// <c>server { listen 127.0.0.1:{PORT}; location / { proxy_pass http://127.0.0.1:5000; } }</c>.
/// </summary>
public sealed class NginxServer : IAsyncDisposable
{
    private static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(15);
    // Killed when the test process exits, so that a server a test forgot to dispose leaves no nginx behind.
    private static readonly ConcurrentDictionary<NginxServer, byte> Running = new();

    private readonly string _directory;
    private readonly StringBuilder _output = new();
    private Process? _process;

    // vstest kills the test host 100 ms after asking it to end (VSTEST_TESTHOST_SHUTDOWN_TIMEOUT): all are signalled first.
    static NginxServer() => AppDomain.CurrentDomain.ProcessExit += (_, _) =>
    {
        var servers = Running.Keys.Where(s => s._process is { HasExited: false }).ToList();
        foreach (var server in servers)
        {
            _ = LocalProcesses.Signal(server._process!.Id, LocalProcesses.SigTerm);
        }
        foreach (var server in servers)
        {
            if (!server._process!.WaitForExit(5000))
            {
                server.Kill();
            }
            server.DeleteDirectory();
        }
    };

    private NginxServer(string directory, int port)
    {
        _directory = directory;
        Port = port;
    }

    public int Port { get; }

    public string BaseUrl => $"http://127.0.0.1:{Port.ToString(CultureInfo.InvariantCulture)}";

    /// <summary>nginx's error log (level info), for diagnostics.</summary>
    public string ErrorLog
    {
        get
        {
            var path = Path.Combine(_directory, "error.log");
            return File.Exists(path) ? File.ReadAllText(path) : "";
        }
    }

    /// <summary>Starts nginx with <paramref name="configBody"/> inside its <c>http { }</c> block and waits until it accepts connections.</summary>
    public static async Task<NginxServer> StartAsync(string configBody)
    {
        var nginx = FindNginx();
        var directory = Directory.CreateTempSubdirectory("tessera-nginx-").FullName;
        // Its workers (nobody, when the master runs as root) keep request bodies and buffered responses in the
        // temp paths below, which they must be able to reach: CreateTempSubdirectory makes the directory 0700.
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
                | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        }
        var server = new NginxServer(directory, LocalProcesses.FreePort());
        try
        {
            var config = Path.Combine(directory, "nginx.conf");
            await File.WriteAllTextAsync(config, server.Config(configBody));
            await server.StartProcessAsync(nginx, config);
            return server;
        }
        catch
        {
            server.Kill();
            Running.TryRemove(server, out _);
            server.DeleteDirectory();
            throw;
        }
    }

    private string Config(string body)
    {
        string In(string name) => Quote(Path.Combine(_directory, name));
        return $$"""
            daemon off;
            master_process on;
            worker_processes 1;
            error_log {{In("error.log")}} info;
            pid {{In("nginx.pid")}};
            events {
                worker_connections 1024;
            }
            http {
                access_log off;
                client_body_temp_path {{In("client_body_temp")}};
                proxy_temp_path {{In("proxy_temp")}};
                fastcgi_temp_path {{In("fastcgi_temp")}};
                uwsgi_temp_path {{In("uwsgi_temp")}};
                scgi_temp_path {{In("scgi_temp")}};
            {{body.Replace("{PORT}", Port.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal)}}
            }

            """;
    }

    private static string Quote(string path) => "\"" + path.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) + "\"";

    private async Task StartProcessAsync(string nginx, string config)
    {
        var start = new ProcessStartInfo(nginx) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = _directory };
        // -e: the log for what happens before the configuration is read (the compiled-in one may not be writable).
        foreach (var arg in new[] { "-p", _directory + "/", "-c", config, "-e", Path.Combine(_directory, "error.log") })
        {
            start.ArgumentList.Add(arg);
        }
        var process = new Process { StartInfo = start };
        DataReceivedEventHandler onLine = (_, e) =>
        {
            if (e.Data is not null)
            {
                lock (_output)
                {
                    _output.AppendLine(e.Data);
                }
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

        // nginx says nothing when it is listening: poll a connect, each failure being quick on loopback.
        var deadline = DateTime.UtcNow + ReadyTimeout;
        while (true)
        {
            if (process.HasExited)
            {
                await process.WaitForExitAsync();
                throw Failure($"it exited with status {process.ExitCode.ToString(CultureInfo.InvariantCulture)}");
            }
            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync(IPAddress.Loopback, Port).WaitAsync(TimeSpan.FromSeconds(1));
                return;
            }
            catch (Exception e) when (e is SocketException or TimeoutException)
            {
                if (DateTime.UtcNow > deadline)
                {
                    throw Failure($"not within {ReadyTimeout.TotalSeconds.ToString(CultureInfo.InvariantCulture)} s");
                }
                await Task.Delay(20);
            }
        }
    }

    private InvalidOperationException Failure(string why)
    {
        string output;
        lock (_output)
        {
            output = _output.ToString();
        }
        return new InvalidOperationException(
            $"nginx did not start listening on port {Port.ToString(CultureInfo.InvariantCulture)} ({why}). Its output:\n{output}Its error log:\n{ErrorLog}");
    }

    /// <summary>Fast shutdown (SIGTERM), SIGKILL of master and workers after 5 s; deletes the directory.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_process is { HasExited: false } process)
        {
            _ = LocalProcesses.Signal(process.Id, LocalProcesses.SigTerm);
            try
            {
                await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(5));
            }
            catch (TimeoutException)
            {
                Kill();
                await process.WaitForExitAsync();
            }
        }
        _process?.Dispose();
        Running.TryRemove(this, out _);
        DeleteDirectory();
    }

    // The whole tree: workers outlive a SIGKILLed master, still listening.
    private void Kill()
    {
        if (_process is { HasExited: false } process)
        {
            process.Kill(entireProcessTree: true);
        }
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

    private static string FindNginx()
    {
        // /usr/sbin is not on every user's PATH.
        var candidates = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, "nginx"))
            .Append("/usr/sbin/nginx");
        return candidates.FirstOrDefault(File.Exists)
            ?? throw new InvalidOperationException("nginx was not found (on PATH or as /usr/sbin/nginx): install the Debian package nginx (scripts/setup.sh does).");
    }

}
