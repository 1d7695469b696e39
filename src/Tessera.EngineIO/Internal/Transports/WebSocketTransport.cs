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

    /// <summary>The loop reading this WebSocket; set once it starts.</summary>
    public Task ReceiveLoop { get; set; } = Task.CompletedTask;
}
