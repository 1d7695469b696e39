namespace Tessera.EngineIO.Internal;

/// <summary>
/// One outgoing packet, already encoded. Text frames hold the whole packet (type digit included), so the same
/// bytes serve a WebSocket text frame and a polling payload; binary frames hold the raw message bytes.
/// The memory is shared between recipients of a broadcast and never written after creation.
/// </summary>
internal readonly record struct Frame(ReadOnlyMemory<byte> Data, bool IsBinary)
{
    public static readonly Frame Close = Control("1");
    public static readonly Frame Ping = Control("2");
    public static readonly Frame Noop = Control("6");
    public static readonly Frame PongProbe = Control("3probe");

    /// <summary>v3 only: the answer to the client's ping.</summary>
    public static readonly Frame Pong = Control("3");

    /// <summary>
    /// The session's last packet when the server closes it. Polling writes it; WebSocket transports skip it and
    /// close the WebSocket instead, as Node's engine.io does (its WebSocket transport never sends a close packet).
    /// </summary>
    public bool IsClose => Data.Equals(Close.Data);

    /// <summary>
    /// A noop that ends the session once written: what a GET receives after the client's own close packet (as
    /// Node releases a parked GET). Its own bytes, so that it is told apart from an ordinary noop.
    /// </summary>
    public static readonly Frame ClientCloseNoop = Control("6");

    /// <summary>Whether the session ends once this frame is out.</summary>
    public bool EndsSession => IsClose || Data.Equals(ClientCloseNoop.Data);

    private static Frame Control(string packet) => new(System.Text.Encoding.ASCII.GetBytes(packet), false);
}
