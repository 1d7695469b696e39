using System.Diagnostics;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Tessera.EngineIO.Internal;

/// <summary>
/// Hands the collector's unused memory back to the OS once the process goes quiet after a burst (see
/// <see cref="IdleMemoryReleaseOptions"/>). A one-second timer samples the bytes allocated; the decision is
/// <see cref="IdleMemoryReleaseState"/>, apart from the clock and the GC so that it can be tested.
/// </summary>
/// <remarks>
/// The heap is the process's: hosts in one process (tests run dozens) share the last release, so one burst is
/// collected once, however many hosts saw it.
/// </remarks>
internal sealed partial class IdleMemoryRelease(IOptions<IdleMemoryReleaseOptions> options, ILogger<IdleMemoryRelease> logger) : IHostedService, IDisposable
{
    private static readonly TimeSpan Tick = TimeSpan.FromSeconds(1);
    private static readonly Lock Collecting = new();
    // GC.GetTotalAllocatedBytes() right after the process's last release.
    private static long s_releasedAt;

    private Timer? _timer;
    private IdleMemoryReleaseState _state;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        var o = options.Value;
        if (o.Enabled)
        {
            _state = new IdleMemoryReleaseState((int)Math.Ceiling(o.QuietPeriod / Tick), o.MaxHeapBytes, GC.GetTotalAllocatedBytes());
            _timer = new Timer(static s => ((IdleMemoryRelease)s!).OnTick(), this, Tick, Tick);
        }
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        Dispose();
        return Task.CompletedTask;
    }

    public void Dispose() => _timer?.Dispose();

    private void OnTick()
    {
        // One tick at a time, and one host's at a time: a tick the pool delays behind another is skipped.
        if (!Collecting.TryEnter())
        {
            return;
        }
        try
        {
            var info = GC.GetGCMemoryInfo();
            var decision = _state.Observe(GC.GetTotalAllocatedBytes(), info.HeapSizeBytes, Volatile.Read(ref s_releasedAt));
            if (decision == IdleMemoryReleaseState.Decision.BurstOverKept)
            {
                Log.Kept(logger, info.HeapSizeBytes, info.TotalCommittedBytes);
            }
            if (decision != IdleMemoryReleaseState.Decision.Release)
            {
                return;
            }
            var started = Stopwatch.GetTimestamp();
            // Aggressive: compacts, and decommits the free regions and the gen-0 budget, which a plain full collection
            // keeps committed for the allocations it expects next.
            GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
            var after = GC.GetGCMemoryInfo();
            var allocated = GC.GetTotalAllocatedBytes();
            Volatile.Write(ref s_releasedAt, allocated);
            _state.Released(allocated);
            Log.Released(logger, info.TotalCommittedBytes - after.TotalCommittedBytes, after.HeapSizeBytes,
                (long)Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        }
        finally
        {
            Collecting.Exit();
        }
    }

    private static partial class Log
    {
        // Event ids 141-142 under the "Tessera.EngineIO" assembly's categories (EngineIOServer.Log.cs lists the rest).
        [LoggerMessage(141, LogLevel.Debug, "Quiet after a burst: released {Bytes} bytes of committed memory (heap {HeapBytes} bytes, collection {Milliseconds} ms).")]
        public static partial void Released(ILogger logger, long bytes, long heapBytes, long milliseconds);

        [LoggerMessage(142, LogLevel.Debug, "Quiet after a burst: memory kept (heap {HeapBytes} bytes, {CommittedBytes} bytes committed at the last collection).")]
        public static partial void Kept(ILogger logger, long heapBytes, long committedBytes);
    }
}

/// <summary>
/// The release's decision, one sample a tick: a tick that allocated at least <see cref="BusyBytesPerTick"/> marks a
/// burst; <c>quietTicks</c> ticks in a row below <see cref="QuietBytesPerTick"/> after a burst end it (the gap between
/// the two keeps a process that allocates steadily near one rate from being taken for bursts), and if the heap is no larger than the bound and at
/// least <see cref="MinimumBytesSinceRelease"/> were allocated since the last release (the collector's budget grew
/// with them: GC.GetGCMemoryInfo describes the last collection, not what was committed since), memory is released;
/// the next release needs a new burst.
/// </summary>
internal struct IdleMemoryReleaseState(int quietTicks, long maxHeapBytes, long allocated)
{
    public const long BusyBytesPerTick = 4L * 1024 * 1024;
    public const long QuietBytesPerTick = 1L * 1024 * 1024;
    public const long MinimumBytesSinceRelease = 32L * 1024 * 1024;

    private long _allocated = allocated;
    private bool _burst;
    private int _quiet;

    public enum Decision
    {
        /// <summary>Busy, quiet with no burst before, or not quiet for long enough yet.</summary>
        Wait,
        /// <summary>A burst is over: release now.</summary>
        Release,
        /// <summary>A burst is over, but the heap is too large or too little was allocated since the last release.</summary>
        BurstOverKept,
    }

    /// <summary>
    /// Records one tick's sample: the bytes allocated so far, the last collection's heap size, and the bytes allocated
    /// so far when the process last released memory.
    /// </summary>
    public Decision Observe(long allocated, long heapBytes, long releasedAt)
    {
        var delta = allocated - _allocated;
        _allocated = allocated;
        if (delta >= BusyBytesPerTick)
        {
            _burst = true;
            _quiet = 0;
            return Decision.Wait;
        }
        if (delta >= QuietBytesPerTick)
        {
            _quiet = 0;
            return Decision.Wait;
        }
        if (!_burst || ++_quiet < quietTicks)
        {
            return Decision.Wait;
        }
        // Quiet long enough after a burst: this burst is over whatever is decided now.
        _burst = false;
        return heapBytes <= maxHeapBytes && allocated - releasedAt >= MinimumBytesSinceRelease
            ? Decision.Release
            : Decision.BurstOverKept;
    }

    /// <summary>After a release: the collection's own allocation is not the next tick's burst.</summary>
    public void Released(long allocated) => _allocated = allocated;
}
