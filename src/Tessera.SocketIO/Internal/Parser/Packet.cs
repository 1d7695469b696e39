using System.Text.Json;

namespace Tessera.SocketIO.Internal.Parser;

/// <summary>A decoded Socket.IO packet. Owns its data (copied out of the transport's buffer).</summary>
internal sealed class Packet
{
    public PacketType Type { get; init; }

    public string Namespace { get; init; } = "/";

    /// <summary>The ack id, or -1 when none.</summary>
    public long Id { get; init; } = -1;

    /// <summary>The JSON payload; Undefined when the packet had none.</summary>
    public JsonElement Data { get; init; }

    /// <summary>How many binary attachments follow (binary types only).</summary>
    public int Attachments { get; init; }

    /// <summary>The attachments received so far, in order.</summary>
    public List<byte[]>? Buffers { get; set; }

    public bool IsComplete => Attachments == 0 || (Buffers?.Count ?? 0) == Attachments;
}
