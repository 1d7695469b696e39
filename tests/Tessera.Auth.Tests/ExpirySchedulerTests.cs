using Tessera.Auth.Internal;

namespace Tessera.Auth.Tests;

/// <summary>The shared deadline queue behind auth:expiring / auth:expired.</summary>
public class ExpirySchedulerTests
{
    private sealed class Target : IDeadlineTarget
    {
        public long Version { get; set; } = 1;

        public TaskCompletionSource<byte> Fired { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public void OnDue(long version, byte kind) => Fired.TrySetResult(kind);
    }

    [Fact]
    public void Entries_of_departed_sockets_are_dropped_instead_of_kept_until_their_deadline()
    {
        using var scheduler = new ExpiryScheduler();
        var inAnHour = scheduler.NowMs + 3_600_000;
        var targets = Enumerable.Range(0, 1_000).Select(_ => new Target()).ToArray();
        foreach (var target in targets)
        {
            scheduler.Schedule(inAnHour, target, target.Version, 0);
            scheduler.Schedule(inAnHour + 1, target, target.Version, 1);
        }
        Assert.Equal(2_000, scheduler.Count);

        // 900 sockets leave: their entries go stale, and the queue must not hold them (and their sockets) for an hour.
        foreach (var target in targets.Take(900))
        {
            target.Version++;
            scheduler.Forget(2);
        }
        Assert.InRange(scheduler.Count, 200, 1_000);
        Assert.All(targets.Skip(900), t => Assert.False(t.Fired.Task.IsCompleted));
    }

    [Fact]
    public async Task A_due_entry_fires_once_with_its_kind_and_a_stale_one_does_not_fire()
    {
        using var scheduler = new ExpiryScheduler();
        var live = new Target();
        var stale = new Target();
        scheduler.Schedule(scheduler.NowMs - 1, stale, stale.Version, 0);
        stale.Version++;
        scheduler.Schedule(scheduler.NowMs + 50, live, live.Version, 1);

        Assert.Equal(1, await live.Fired.Task.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.False(stale.Fired.Task.IsCompleted);
        Assert.Equal(0, scheduler.Count);
    }
}
