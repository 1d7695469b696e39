namespace Tessera.SocketIO;

/// <summary>An event another node sent with <c>ServerSideEmit</c> (Node's <c>serverSideEmit</c>).</summary>
public sealed class SocketIOServerSideEvent
{
    private readonly Action<object?>? _ack;
    private int _acked;

    internal SocketIOServerSideEvent(string name, SocketIOArgs args, Action<object?>? ack)
    {
        Name = name;
        Args = args;
        _ack = ack;
    }

    /// <summary>The event name the other node emitted.</summary>
    public string Name { get; }

    /// <summary>The event's arguments, as JSON (server-side events carry no binary attachments).</summary>
    public SocketIOArgs Args { get; }

    /// <summary>Whether the sending node waits for an answer (Node's <c>serverSideEmitWithAck</c>).</summary>
    public bool HasAck => _ack is not null;

    /// <summary>Answers the sending node once (one argument, as Node's protocol carries).</summary>
    public bool Ack(object? value)
    {
        if (_ack is null || Interlocked.Exchange(ref _acked, 1) != 0)
        {
            return false;
        }
        _ack(value);
        return true;
    }
}
