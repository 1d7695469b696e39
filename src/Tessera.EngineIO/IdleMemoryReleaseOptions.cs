namespace Tessera.EngineIO;

/// <summary>
/// Options of the idle memory release that <c>AddEngineIO</c> (and <c>AddSocketIO</c>) register: when the process
/// goes quiet after a burst of allocation (a reconnect storm, a connect burst), one full compacting collection hands
/// the garbage collector's unused memory back to the operating system. V8's memory reducer does the same for Node.
/// </summary>
/// <remarks>
/// A burst of handshakes grows the collector's allocation budget, and the memory behind it stays committed (in RSS)
/// while nothing allocates: about 3.5 KB per connection after 10,000 connects (docs/benchmarks.md). The release runs
/// only on the transition from busy to quiet, at most once per burst of at least 32 MiB, and once per process however
/// many hosts it runs; a process that allocates steadily, fast or slow, is never collected by it. It costs one
/// blocking collection, which on a heap of 80 MB (10,000 connections) paused the process for 0.1–0.3 s on one core.
/// </remarks>
public sealed class IdleMemoryReleaseOptions
{
    /// <summary>Whether the release runs. Default true.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>
    /// How long the process must allocate less than 1 MiB a second, after a second in which it allocated 4 MiB or
    /// more, before memory is released. Whole seconds, between 1 s and 10 min. Default 3 s.
    /// </summary>
    public TimeSpan QuietPeriod { get; set; } = TimeSpan.FromSeconds(3);

    /// <summary>
    /// The largest managed heap (bytes, after the last collection) that is released: a full collection's pause grows
    /// with the heap, and a large heap is better left to the collector's own pace (or to Server GC's dynamic
    /// adaptation). Default 512 MiB.
    /// </summary>
    public long MaxHeapBytes { get; set; } = 512L * 1024 * 1024;

    internal string? Problem()
    {
        if (QuietPeriod < TimeSpan.FromSeconds(1) || QuietPeriod > TimeSpan.FromMinutes(10))
        {
            return "IdleMemoryReleaseOptions: QuietPeriod must be between 1 second and 10 minutes.";
        }
        if (MaxHeapBytes <= 0)
        {
            return "IdleMemoryReleaseOptions: MaxHeapBytes must be positive.";
        }
        return null;
    }
}
