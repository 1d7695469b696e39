using System.Diagnostics;
using System.Globalization;

namespace Tessera.Tests.Shared;

/// <summary>
/// Servers the tests start (postgres, nginx, redis-server) must not outlive the test process, however it ends: vstest
/// kills a test host 100 ms after asking it to stop, and a crashed or killed host runs no exit handler. A watchdog
/// process of its own (in a session of its own, so the host's end does not take it along) checks every second whether the
/// host is alive, and when it is gone stops the server (SIGTERM, SIGKILL 5 s later) and removes its directory.
/// </summary>
public static class OrphanGuard
{
    public static void Watch(int serverPid, string? directory = null)
    {
        var host = Environment.ProcessId.ToString(CultureInfo.InvariantCulture);
        var server = serverPid.ToString(CultureInfo.InvariantCulture);
        var cleanup = directory is null ? "" : $"; rm -rf '{directory.Replace("'", "'\\''", StringComparison.Ordinal)}'";
        // Ends by itself as soon as the server does (a dispose, a kill before a restart), leaving its directory alone then:
        // only a vanished host means cleaning up.
        var script = $"while kill -0 {host} 2>/dev/null && kill -0 {server} 2>/dev/null; do sleep 1; done; "
            + $"if ! kill -0 {host} 2>/dev/null; then "
            + $"kill -TERM {server} 2>/dev/null; for i in 1 2 3 4 5; do kill -0 {server} 2>/dev/null || break; sleep 1; done; kill -KILL {server} 2>/dev/null{cleanup}; fi";
        var start = new ProcessStartInfo("setsid") { UseShellExecute = false, RedirectStandardInput = false };
        foreach (var arg in new[] { "sh", "-c", script })
        {
            start.ArgumentList.Add(arg);
        }
        using var _ = Process.Start(start);
    }
}
