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

    private static Frame Control(string packet) => new(System.Text.Encoding.ASCII.GetBytes(packet), false);
}
