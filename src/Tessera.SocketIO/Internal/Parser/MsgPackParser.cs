using System.Buffers;
using System.Text.Json;
using MessagePack;
using Tessera.EngineIO;

namespace Tessera.SocketIO.Internal.Parser;

/// <summary>
/// socket.io-msgpack-parser 3.x (<see cref="SocketIOParser.MessagePack"/>): one binary Engine.IO message per packet, a
/// msgpack map <c>{type, data, nsp, id?}</c> as notepack.io writes it, binary inline as bin values. Types are 0 to 4
/// only (an event with binary is a plain EVENT); other keys (the client's <c>options</c>) are ignored. Its checks are
/// the package's <c>checkPacket</c>: integer type 0–4, string nsp, integer id if any, and the data each type allows.
/// </summary>
internal sealed class MsgPackParser : SocketIOParser
{
    private const int MaxType = (int)PacketType.ConnectError;

    public override IReadOnlyList<EngineIOOutgoingMessage> Encode(SocketIOPacketContent packet)
    {
        ArgumentNullException.ThrowIfNull(packet);
        var buffer = new ArrayBufferWriter<byte>(64 + (packet.Attachments.Count > 0 ? packet.Attachments.Sum(a => a.Length) : 0));
        var writer = new MessagePackWriter(buffer);
        MsgPackJson.WritePacket(ref writer, packet.Type, packet.Namespace, packet.Data,
            packet.Attachments.Select(static a => (ReadOnlyMemory<byte>)a).ToArray(), packet.Id);
        writer.Flush();
        return [EngineIOOutgoingMessage.Binary(buffer.WrittenMemory.ToArray())];
    }

    public override SocketIOPacketDecoder CreateDecoder() => Decoder.Instance;

    /// <summary>Stateless: every packet is one message.</summary>
    private sealed class Decoder : SocketIOPacketDecoder
    {
        public static readonly Decoder Instance = new();

        public override SocketIOPacketContent? Add(EngineIOMessage message)
        {
            if (!message.IsBinary)
            {
                throw new FormatException("text data with the msgpack parser");
            }
            try
            {
                return Read(message.Data);
            }
            catch (Exception ex) when (ex is MessagePackSerializationException or EndOfStreamException or OverflowException or ArgumentOutOfRangeException)
            {
                throw new FormatException("invalid msgpack", ex);
            }
        }

        private static SocketIOPacketContent Read(ReadOnlyMemory<byte> bytes)
        {
            var reader = new MessagePackReader(bytes);
            if (reader.NextMessagePackType != MessagePackType.Map)
            {
                throw new FormatException("not a msgpack map");
            }
            var entries = reader.ReadMapHeader();
            int? type = null;
            string? nsp = null;
            long id = -1;
            JsonElement data = default;
            var attachments = new List<byte[]>();
            for (var i = 0; i < entries; i++)
            {
                var key = reader.NextMessagePackType == MessagePackType.String ? reader.ReadString() : null;
                switch (key)
                {
                    case "type":
                        type = reader.NextMessagePackType == MessagePackType.Integer ? reader.ReadInt32() : throw new FormatException("invalid packet type");
                        break;
                    case "nsp":
                        nsp = reader.NextMessagePackType == MessagePackType.String ? reader.ReadString() : throw new FormatException("invalid namespace");
                        break;
                    case "id":
                        id = reader.NextMessagePackType == MessagePackType.Integer ? reader.ReadInt64() : throw new FormatException("invalid packet id");
                        if (id < 0)
                        {
                            throw new FormatException("invalid packet id");
                        }
                        break;
                    case "data":
                        attachments.Clear();
                        data = MsgPackJson.ReadElement(ref reader, attachments);
                        break;
                    default:
                        if (key is null)
                        {
                            reader.Skip();
                        }
                        reader.Skip();
                        break;
                }
            }
            if (!reader.End)
            {
                throw new FormatException("trailing bytes");
            }
            if (type is not (>= 0 and <= MaxType))
            {
                throw new FormatException("invalid packet type");
            }
            if (nsp is null)
            {
                throw new FormatException("invalid namespace");
            }
            return new SocketIOPacketContent(type.Value, nsp, data, attachments, id);
        }
    }
}
