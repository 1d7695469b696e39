namespace Tessera.Auth.Internal;

/// <summary>
/// One timer for every socket's token deadlines: a priority queue ordered by due time, the timer armed for the
/// earliest. An idle socket costs one queue entry, not a timer of its own. Entries are not removed when a
/// deadline moves (refresh); the callback checks a version instead.
/// </summary>
internal sealed class ExpiryScheduler : IDisposable
{
    private readonly Lock _lock = new();
    private readonly PriorityQueue<(Action<long> Callback, long Version), long> _queue = new();
    private readonly Timer _timer;
    private readonly TimeProvider _time;
    private long _armedFor = long.MaxValue;

    public ExpiryScheduler(TimeProvider? time = null)
    {
        _time = time ?? TimeProvider.System;
        _timer = new Timer(static s => ((ExpiryScheduler)s!).Fire(), this, Timeout.Infinite, Timeout.Infinite);
    }

    public long NowMs => _time.GetUtcNow().ToUnixTimeMilliseconds();

    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _queue.Count;
            }
        }
    }

    /// <summary>Runs <paramref name="callback"/>(version) at <paramref name="dueMs"/> (Unix ms), or at once if past.</summary>
    public void Schedule(long dueMs, long version, Action<long> callback)
    {
        lock (_lock)
        {
            _queue.Enqueue((callback, version), dueMs);
            if (dueMs < _armedFor)
            {
                ArmLocked(dueMs);
            }
        }
    }

    private void ArmLocked(long dueMs)
    {
        _armedFor = dueMs;
        var delay = Math.Max(0, dueMs - NowMs);
        _timer.Change(TimeSpan.FromMilliseconds(Math.Min(delay, int.MaxValue - 1)), Timeout.InfiniteTimeSpan);
    }

    private void Fire()
    {
        List<(Action<long> Callback, long Version)>? due = null;
        lock (_lock)
        {
            var now = NowMs;
            while (_queue.TryPeek(out var entry, out var at) && at <= now)
            {
                _queue.Dequeue();
                (due ??= []).Add(entry);
            }
            _armedFor = long.MaxValue;
            if (_queue.TryPeek(out _, out var next))
            {
                ArmLocked(next);
            }
        }
        if (due is null)
        {
            return;
        }
        foreach (var (callback, version) in due)
        {
            callback(version);
        }
    }

    public void Dispose() => _timer.Dispose();
}
