namespace Tessera.SocketIO.Internal.Parser;

/// <summary>Socket.IO v5 packet types, the first digit of every packet.</summary>
internal enum PacketType : byte
{
    Connect = 0,
    Disconnect = 1,
    Event = 2,
    Ack = 3,
    ConnectError = 4,
    BinaryEvent = 5,
    BinaryAck = 6,
}
