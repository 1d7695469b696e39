namespace Tessera.EngineIO.Internal;

/// <summary>Engine.IO v4 packet types; on the wire each is its ASCII digit.</summary>
internal enum PacketType : byte
{
    Open = 0,
    Close = 1,
    Ping = 2,
    Pong = 3,
    Message = 4,
    Upgrade = 5,
    Noop = 6,
}
