namespace Tessera.EngineIO.Internal.Transports;

/// <summary>
/// Where a socket's packets go. The socket calls the "Locked" members while holding its lock; delivery
/// (<see cref="IFrameSink.Deliver"/>) happens after the lock is released so no I/O runs under it.
/// </summary>
internal abstract class Transport
{
    public abstract string Name { get; }

    /// <summary>Whether a batch could be sent right now (for volatile messages, which are dropped otherwise).</summary>
    public abstract bool CanWriteLocked { get; }

    /// <summary>Claims the right to send one batch now, or null if the transport cannot take one.</summary>
    public abstract IFrameSink? TryReserveLocked();

    /// <summary>The socket closed: release whatever the transport holds. Called outside the socket's lock.</summary>
    public abstract void Shutdown(bool graceful);
}

internal interface IFrameSink
{
    /// <summary>Sends the batch; the sink hands the list back to the socket when done.</summary>
    void Deliver(EngineIOSocket socket, List<Frame> batch);
}
