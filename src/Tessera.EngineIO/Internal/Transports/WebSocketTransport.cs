namespace Tessera.EngineIO.Internal.Transports;

/// <summary>
/// WebSocket: one frame per packet, text packets as text frames, binary messages as binary frames.
/// Sends run one batch at a time, started by whoever queued the first packet, so no task waits per socket.
/// Two implementations: <see cref="ManagedWebSocketTransport"/> over ASP.NET Core's WebSocket, and
/// <see cref="DirectWebSocketTransport"/> straight over a Kestrel connection.
/// </summary>
internal abstract class WebSocketTransport : Transport, IFrameSink
{
    private bool _writing;

    public override string Name => "websocket";

    public override bool CanWriteLocked => !_writing;

    public override IFrameSink? TryReserveLocked()
    {
        if (_writing)
        {
            return null;
        }
        _writing = true;
        return this;
    }

    /// <summary>Called by the socket (under its lock) once a batch is out and nothing more is to be sent.</summary>
    public void ReleaseLocked() => _writing = false;

    public bool IsWritingLocked => _writing;

    /// <summary>Whether a close frame can be queued behind a send in flight (otherwise the socket aborts).</summary>
    public virtual bool CanCloseWhileWriting => false;

    public abstract void Deliver(EngineIOSocket socket, List<Frame> batch);

    private readonly TaskCompletionSource _receiveEnded = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>
    /// Completes when the loop reading this WebSocket has ended. The loop starts only after the open packet and the
    /// handler's OnOpenAsync, so a close (a server shutdown, say) can come before it: waiting on this, rather than
    /// on a task that does not exist yet, keeps such a close graceful.
    /// </summary>
    public Task ReceiveLoop => _receiveEnded.Task;

    /// <summary>
    /// Called last by the receive loop, in its finally: <see cref="ReceiveLoop"/> ends. (Not a continuation on the
    /// loop's task: that held two more objects per connection for its whole life.)
    /// </summary>
    protected void EndReceiveLoop() => _receiveEnded.TrySetResult();
}
