namespace Tessera.SocketIO;

/// <summary>An event received from a client.</summary>
public sealed class SocketIOEvent
{
    private readonly long _ackId;
    private int _acked;

    internal SocketIOEvent(SocketIOSocket socket, string name, SocketIOArgs args, long ackId)
    {
        Socket = socket;
        Name = name;
        Args = args;
        _ackId = ackId;
    }

    /// <summary>The socket that received the event.</summary>
    public SocketIOSocket Socket { get; }

    // The middleware chain's position, and its "next" (created on first use).
    internal int MiddlewareIndex;
    private Func<ValueTask>? _next;

    internal Func<ValueTask> Next => _next ??= () => Socket.RunMiddlewareAsync(this);

    /// <summary>The event name, the first element of the EVENT packet (e.g. <c>chat:message</c>).</summary>
    public string Name { get; }

    /// <summary>The event's arguments after its name; an acknowledgement callback on the client is not among them (see <see cref="HasAck"/>).</summary>
    public SocketIOArgs Args { get; }

    /// <summary>Whether the client asked for an acknowledgement.</summary>
    public bool HasAck => _ackId >= 0;

    /// <summary>
    /// Acknowledges the event with these arguments (binary allowed). Only the first call sends; false when no
    /// ack was requested, it was already sent, or the socket is gone.
    /// </summary>
    public bool Ack(params object?[] args)
    {
        if (_ackId < 0 || Interlocked.Exchange(ref _acked, 1) != 0)
        {
            return false;
        }
        return Socket.SendAck(_ackId, args);
    }
}
