using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Tessera.Hostile;

/// <summary>
/// One probe thread per core, pinned to it (sched_setaffinity), waking every 5 ms: how late it wakes is how long
/// that core ran nothing else of ours — the server's core included. This machine was seen to stop running a core
/// for seconds, even minutes; a phase with such a stall says so instead of blaming the server.
/// </summary>
internal static partial class Stalls
{
    private static double[] _max = [];

    [LibraryImport("libc", SetLastError = true)]
    private static partial int sched_setaffinity(int pid, nint size, ref ulong mask);

    public static int Cores { get; private set; }

    public static void Start(CancellationToken stop)
    {
        Cores = Math.Min(64, File.ReadLines("/proc/stat").Count(l => l.StartsWith("cpu", StringComparison.Ordinal) && char.IsDigit(l[3])));
        _max = new double[Cores];
        for (var core = 0; core < Cores; core++)
        {
            var pinned = core;
            new Thread(() => Probe(pinned, stop)) { IsBackground = true, Name = "stall probe " + pinned }.Start();
        }
    }

    private static void Probe(int core, CancellationToken stop)
    {
        var mask = 1UL << core;
        if (!OperatingSystem.IsLinux() || sched_setaffinity(0, sizeof(ulong), ref mask) != 0)
        {
            return;
        }
        while (!stop.IsCancellationRequested)
        {
            var before = Stopwatch.GetTimestamp();
            Thread.Sleep(5);
            var late = Stopwatch.GetElapsedTime(before).TotalMilliseconds - 5;
            if (late > Volatile.Read(ref _max[core]))
            {
                Volatile.Write(ref _max[core], late);
            }
            if (late > 1000)
            {
                Console.Error.WriteLine($"[{DateTime.UtcNow:HH:mm:ss}] core {core} ran nothing of ours for {late / 1000:0.0} s");
            }
        }
    }

    /// <summary>The longest stall per core since the last call (ms), and starts counting again.</summary>
    public static double[] TakeMax()
    {
        var max = new double[_max.Length];
        for (var i = 0; i < max.Length; i++)
        {
            max[i] = Math.Round(Interlocked.Exchange(ref _max[i], 0), 1);
        }
        return max;
    }
}
