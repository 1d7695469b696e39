using System.Text.Json;
using Tessera.EngineIO;

namespace Tessera.SocketIO.Internal.Parser;

/// <summary>
/// socket.io-parser's format (<see cref="SocketIOParser.Default"/>): the server's own fast paths (PacketEncoder and
/// PacketDecoder) behind the public seam. A packet with binary is a text message announcing <c>n-</c> attachments,
/// then n binary messages.
/// </summary>
internal sealed class JsonParser : SocketIOParser
{
    public override IReadOnlyList<EngineIOOutgoingMessage> Encode(SocketIOPacketContent packet)
    {
        ArgumentNullException.ThrowIfNull(packet);
        var encoded = packet.ToPacket().Encoded;
        return encoded.Attachments is { } attachments ? [encoded.Text, .. attachments] : [encoded.Text];
    }

    public override SocketIOPacketDecoder CreateDecoder() => new Decoder();

    private sealed class Decoder : SocketIOPacketDecoder
    {
        private Packet? _reassembling;

        public override SocketIOPacketContent? Add(EngineIOMessage message)
        {
            var packet = AddPacket(message, out var error);
            if (error is not null)
            {
                throw new FormatException(error);
            }
            return packet is null ? null : new SocketIOPacketContent(PacketValidation.PlainType(packet.Type), packet.Namespace, packet.Data, packet.Buffers ?? [], packet.Id);
        }

        internal override Packet? AddPacket(EngineIOMessage message, out string? error)
        {
            error = null;
            if (message.IsBinary)
            {
                var pending = _reassembling;
                if (pending is null)
                {
                    error = "binary data when not reconstructing a packet";
                    return null;
                }
                (pending.Buffers ??= new List<byte[]>(pending.Attachments)).Add(message.Data.ToArray());
                if (!pending.IsComplete)
                {
                    return null;
                }
                _reassembling = null;
                return pending;
            }
            if (_reassembling is not null)
            {
                _reassembling = null;
                error = "text data while reconstructing a packet";
                return null;
            }
            var packet = PacketDecoder.Decode(message.Data.Span, out error);
            if (packet is null)
            {
                return null;
            }
            if (!packet.IsComplete)
            {
                // Every placeholder must point at one of the attachments announced.
                if (!PacketValidation.PlaceholdersInRange(packet.Data, packet.Attachments))
                {
                    error = "illegal attachments";
                    return null;
                }
                _reassembling = packet;
                return null;
            }
            return packet;
        }
    }
}
