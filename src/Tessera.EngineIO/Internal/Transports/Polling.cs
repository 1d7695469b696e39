namespace Tessera.EngineIO.Internal.Transports;

/// <summary>
/// HTTP long-polling: a pending GET is the only way to reach the client, so the transport is writable exactly
/// while one is parked. POSTs carry the client's packets.
/// </summary>
internal sealed class PollingTransport : Transport
{
    private PendingPoll? _pending;

    public override string Name => "polling";

    /// <summary>Set while a POST is being processed; a second one at the same time is a protocol error.</summary>
    public bool PostInFlight { get; set; }

    public bool HasPendingPoll => _pending is not null;

    public override bool CanWriteLocked => _pending is not null;

    public void ParkLocked(PendingPoll poll) => _pending = poll;

    /// <summary>The parked GET went away (client gone) before anything was delivered to it.</summary>
    public bool TryUnparkLocked(PendingPoll poll)
    {
        if (!ReferenceEquals(_pending, poll))
        {
            return false;
        }
        _pending = null;
        return true;
    }

    public override IFrameSink? TryReserveLocked()
    {
        var pending = _pending;
        _pending = null;
        return pending;
    }

    public override void Shutdown(bool graceful)
    {
    }
}

/// <summary>A parked GET: completes with the batch it must write.</summary>
internal sealed class PendingPoll() : TaskCompletionSource<List<Frame>>(TaskCreationOptions.RunContinuationsAsynchronously), IFrameSink
{
    public void Deliver(EngineIOSocket socket, List<Frame> batch) => TrySetResult(batch);
}
