using System.Text.Json;
using Tessera.SocketIO.Internal.Parser;

namespace Tessera.SocketIO;

/// <summary>
/// A packet as a cluster adapter receives it from another node (Node's adapters send <c>{type, data, nsp, id}</c>):
/// JSON data with binary placeholders, and the attachments they point to. <see cref="ToPacket"/> encodes it once for
/// local delivery; going the other way, a <see cref="SocketIOPacket"/> already carries its logical parts.
/// </summary>
public sealed class SocketIOPacketContent
{
    /// <summary>Creates the content of a packet received from another node.</summary>
    /// <param name="type">The Socket.IO packet type, 0 to 6 (2 EVENT, 3 ACK, …).</param>
    /// <param name="nsp">The namespace, e.g. <c>/</c> or <c>/chat</c>.</param>
    /// <param name="data">The payload with binary placeholders; <see cref="JsonValueKind.Undefined"/> for none.</param>
    /// <param name="attachments">The binary attachments the placeholders point to, in order.</param>
    /// <param name="id">The ack id, or -1 for none.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="type"/> is not 0 to 6.</exception>
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

    /// <summary>The namespace, e.g. <c>/</c> or <c>/chat</c>.</summary>
    public string Namespace { get; }

    /// <summary>The payload, with <c>{"_placeholder":true,"num":n}</c> where binary goes.</summary>
    public JsonElement Data { get; }

    /// <summary>The binary attachments; placeholder <c>num</c> n in <see cref="Data"/> stands for <c>Attachments[n]</c>.</summary>
    public IReadOnlyList<byte[]> Attachments { get; }

    /// <summary>The ack id, or -1.</summary>
    public long Id { get; }

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
