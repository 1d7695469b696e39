using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Tessera.EngineIO.Internal;
using Decision = Tessera.EngineIO.Internal.IdleMemoryReleaseState.Decision;

namespace Tessera.EngineIO.Tests;

public class IdleMemoryReleaseTests
{
    private const long MiB = 1024 * 1024;
    private const long Heap = 80 * MiB;

    // Feeds one sample a tick, each tick allocating the given number of MiB; returns every decision.
    private static List<Decision> Run(ref IdleMemoryReleaseState state, ref long allocated, long releasedAt, params long[] mibPerTick)
    {
        var decisions = new List<Decision>();
        foreach (var mib in mibPerTick)
        {
            allocated += mib * MiB;
            decisions.Add(state.Observe(allocated, Heap, releasedAt));
        }
        return decisions;
    }

    [Fact]
    public void A_burst_followed_by_the_quiet_period_releases_once()
    {
        long allocated = 0;
        var state = new IdleMemoryReleaseState(quietTicks: 3, maxHeapBytes: 512 * MiB, allocated);
        var decisions = Run(ref state, ref allocated, 0, 30, 30, 30, 0, 0, 0, 0, 0, 0, 0, 0);
        Assert.Equal([Decision.Wait, Decision.Wait, Decision.Wait, Decision.Wait, Decision.Wait, Decision.Release,
            Decision.Wait, Decision.Wait, Decision.Wait, Decision.Wait, Decision.Wait], decisions);
    }

    [Fact]
    public void A_busy_tick_during_the_quiet_period_starts_it_again()
    {
        long allocated = 0;
        var state = new IdleMemoryReleaseState(quietTicks: 2, maxHeapBytes: 512 * MiB, allocated);
        var decisions = Run(ref state, ref allocated, 0, 40, 0, 10, 0, 0);
        Assert.Equal([Decision.Wait, Decision.Wait, Decision.Wait, Decision.Wait, Decision.Release], decisions);
    }

    [Fact]
    public void A_process_that_allocates_steadily_is_never_collected()
    {
        long allocated = 0;
        var slow = new IdleMemoryReleaseState(quietTicks: 2, maxHeapBytes: 512 * MiB, allocated);
        // Below the busy rate for ever: hundreds of MiB in all, but never a burst.
        Assert.All(Run(ref slow, ref allocated, 0, Enumerable.Repeat(3L, 200).ToArray()), d => Assert.Equal(Decision.Wait, d));

        allocated = 0;
        var fast = new IdleMemoryReleaseState(quietTicks: 2, maxHeapBytes: 512 * MiB, allocated);
        // Busy for ever: never quiet.
        Assert.All(Run(ref fast, ref allocated, 0, Enumerable.Repeat(50L, 200).ToArray()), d => Assert.Equal(Decision.Wait, d));

        allocated = 0;
        var near = new IdleMemoryReleaseState(quietTicks: 2, maxHeapBytes: 512 * MiB, allocated);
        // Steady about the busy rate, a tick either side of it: bursts, but never a quiet tick among them.
        Assert.All(Run(ref near, ref allocated, 0, Enumerable.Range(0, 200).Select(i => i % 2 == 0 ? 5L : 2L).ToArray()),
            d => Assert.Equal(Decision.Wait, d));
    }

    [Fact]
    public void Too_little_since_the_last_release_or_too_large_a_heap_is_kept()
    {
        long allocated = 0;
        var state = new IdleMemoryReleaseState(quietTicks: 1, maxHeapBytes: 512 * MiB, allocated);
        // 10 MiB in a burst: the collector's budget has not grown enough to be worth a full collection.
        Assert.Equal(Decision.BurstOverKept, Run(ref state, ref allocated, 0, 10, 0)[^1]);
        // Another burst: 10 + 30 MiB since the last release (none) is enough.
        Assert.Equal(Decision.Release, Run(ref state, ref allocated, 0, 30, 0)[^1]);
        // The same, counted from a release another host in the process made after 20 MiB.
        allocated = 40 * MiB;
        state = new IdleMemoryReleaseState(quietTicks: 1, maxHeapBytes: 512 * MiB, allocated);
        Assert.Equal(Decision.BurstOverKept, Run(ref state, ref allocated, 20 * MiB, 5, 0)[^1]);

        var big = new IdleMemoryReleaseState(quietTicks: 1, maxHeapBytes: 64 * MiB, 0);
        Assert.Equal(Decision.Wait, big.Observe(100 * MiB, Heap, 0));
        Assert.Equal(Decision.BurstOverKept, big.Observe(100 * MiB, Heap, 0));
    }

    [Fact]
    public async Task Invalid_options_stop_the_host_from_starting_with_a_clear_message()
    {
        var error = await Assert.ThrowsAnyAsync<Exception>(() => LoopbackApp.StartAsync(
            b => b.Services.Configure<IdleMemoryReleaseOptions>(o => o.QuietPeriod = TimeSpan.Zero), _ => { }));
        Assert.Contains("IdleMemoryReleaseOptions: QuietPeriod must be between 1 second and 10 minutes.", error.Message);
    }
}

// Alone, after the parallel tests: the release watches the whole process's allocation, which other tests would keep busy.
[CollectionDefinition(nameof(IdleMemoryReleaseProcessTests), DisableParallelization = true)]
public class IdleMemoryReleaseProcessCollection;

[Collection(nameof(IdleMemoryReleaseProcessTests))]
public class IdleMemoryReleaseProcessTests
{
    [Fact]
    public async Task After_a_burst_the_process_hands_the_unused_memory_back()
    {
        var released = new Released();
        var (app, _) = await LoopbackApp.StartAsync(
            b => b.Services.Configure<IdleMemoryReleaseOptions>(o => o.QuietPeriod = TimeSpan.FromSeconds(1)),
            _ => { }, logs: released);
        await using var _ = app;
        // A burst: 64 MiB of garbage in a few milliseconds (a connect storm allocates at this rate for seconds).
        for (var i = 0; i < 64 * 16; i++)
        {
            GC.KeepAlive(new byte[64 * 1024]);
        }
        var message = await released.First.Task.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.StartsWith("Quiet after a burst: released ", message);
    }

    private sealed class Released : ILoggerProvider
    {
        public TaskCompletionSource<string> First { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public ILogger CreateLogger(string categoryName) => new Logger(this);

        public void Dispose()
        {
        }

        private sealed class Logger(Released owner) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            {
                if (eventId.Id == 141)
                {
                    owner.First.TrySetResult(formatter(state, exception));
                }
            }
        }
    }
}
