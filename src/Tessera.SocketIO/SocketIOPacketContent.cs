using System.Text.Json;
using Tessera.SocketIO.Internal.Parser;

namespace Tessera.SocketIO;

/// <summary>
/// A packet taken apart, as a cluster adapter carries it between nodes (Node's adapters send
/// <c>{type, data, nsp, id}</c>): JSON data with binary placeholders, and the attachments they point to.
/// </summary>
public sealed class SocketIOPacketContent
{
    public SocketIOPacketContent(int type, string nsp, JsonElement data, IReadOnlyList<byte[]> attachments, long id = -1)
    {
        if (type is < 0 or > 6)
        {
            throw new ArgumentOutOfRangeException(nameof(type), "A Socket.IO packet type is 0 to 6.");
        }
        Type = type;
        Namespace = nsp;
        Data = data;
        Attachments = attachments;
        Id = id;
    }

    /// <summary>0 CONNECT … 6 BINARY_ACK; binary types are reported as their plain ones (2, 3).</summary>
    public int Type { get; }

    public string Namespace { get; }

    /// <summary>The payload, with <c>{"_placeholder":true,"num":n}</c> where binary goes.</summary>
    public JsonElement Data { get; }

    public IReadOnlyList<byte[]> Attachments { get; }

    /// <summary>The ack id, or -1.</summary>
    public long Id { get; }

    /// <summary>Takes an encoded packet apart (the inverse of <see cref="ToPacket"/>).</summary>
    public static SocketIOPacketContent From(SocketIOPacket packet)
    {
        ArgumentNullException.ThrowIfNull(packet);
        var text = packet.Encoded.Text.Body.Span;
        var decoded = PacketDecoder.Decode(text, out var error) ?? throw new InvalidOperationException("An encoded packet did not decode: " + error);
        var attachments = packet.Encoded.Attachments is { } binary
            ? binary.Select(a => a.Body.ToArray()).ToArray()
            : [];
        var type = decoded.Type switch
        {
            PacketType.BinaryEvent => PacketType.Event,
            PacketType.BinaryAck => PacketType.Ack,
            var other => other,
        };
        return new SocketIOPacketContent((int)type, decoded.Namespace, decoded.Data, attachments, decoded.Id);
    }

    /// <summary>Encodes the content once, ready for local delivery to any number of sockets.</summary>
    public SocketIOPacket ToPacket() => new(
        PacketEncoder.Encode((PacketType)Type, Namespace, Id, this, static (writer, content) =>
        {
            if (content.Data.ValueKind != JsonValueKind.Undefined)
            {
                BinaryContext.WriteElement(writer, content.Data, content.Attachments);
            }
        }),
        Id);
}
