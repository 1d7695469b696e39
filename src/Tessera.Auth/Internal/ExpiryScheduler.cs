namespace Tessera.Auth.Internal;

/// <summary>Something with deadlines in the <see cref="ExpiryScheduler"/>; entries of older versions are stale.</summary>
internal interface IDeadlineTarget
{
    long Version { get; }

    void OnDue(long version, byte kind);
}

/// <summary>
/// One timer for every socket's token deadlines: a priority queue ordered by due time, the timer armed for the
/// earliest. An idle socket costs one queue entry, not a timer of its own. Entries are not removed when a
/// deadline moves (refresh) or its socket leaves: they go stale (their version is behind the target's), and the
/// queue is compacted once stale entries are the majority, so a disconnected socket is not kept alive until its
/// token's expiry.
/// </summary>
internal sealed class ExpiryScheduler : IDisposable
{
    private const int CompactionFloor = 256;

    private readonly Lock _lock = new();
    private PriorityQueue<(IDeadlineTarget Target, long Version, byte Kind), long> _queue = new();
    private readonly Timer _timer;
    private readonly TimeProvider _time;
    private long _armedFor = long.MaxValue;
    private int _stale;

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

    /// <summary>Calls target.OnDue(version, kind) at <paramref name="dueMs"/> (Unix ms), or at once if past.</summary>
    public void Schedule(long dueMs, IDeadlineTarget target, long version, byte kind)
    {
        lock (_lock)
        {
            _queue.Enqueue((target, version, kind), dueMs);
            if (dueMs < _armedFor)
            {
                ArmLocked(dueMs);
            }
        }
    }

    /// <summary>Says that <paramref name="count"/> queued entries just went stale (their target moved on).</summary>
    public void Forget(int count)
    {
        lock (_lock)
        {
            _stale += count;
            if (_stale > CompactionFloor && _stale > _queue.Count / 2)
            {
                var live = new PriorityQueue<(IDeadlineTarget Target, long Version, byte Kind), long>(_queue.Count - _stale);
                foreach (var (entry, due) in _queue.UnorderedItems)
                {
                    if (entry.Target.Version == entry.Version)
                    {
                        live.Enqueue(entry, due);
                    }
                }
                _queue = live;
                _stale = 0;
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
        List<(IDeadlineTarget Target, long Version, byte Kind)>? due = null;
        lock (_lock)
        {
            var now = NowMs;
            while (_queue.TryPeek(out var entry, out var at) && at <= now)
            {
                _queue.Dequeue();
                if (entry.Target.Version == entry.Version)
                {
                    (due ??= []).Add(entry);
                }
                else if (_stale > 0)
                {
                    _stale--;
                }
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
        foreach (var (target, version, kind) in due)
        {
            target.OnDue(version, kind);
        }
    }

    public void Dispose() => _timer.Dispose();
}
