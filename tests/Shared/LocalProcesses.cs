using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Tessera.Tests.Shared;

/// <summary>What the fixtures that run real servers (redis-server, postgres, nginx, Tessera.Server) share.</summary>
public static class LocalProcesses
{
    public const int SigInt = 2, SigQuit = 3, SigKill = 9, SigTerm = 15, SigStop = 19;

    /// <summary>A loopback port nobody listens on at this moment.</summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>kill(2): 0 on success, -1 if the process is gone (or not ours).</summary>
    public static int Signal(int pid, int signal) => Kill(pid, signal);

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int signal);
}
