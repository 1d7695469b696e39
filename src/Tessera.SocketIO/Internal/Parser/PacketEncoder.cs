using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Tessera.EngineIO;

namespace Tessera.SocketIO.Internal.Parser;

/// <summary>
/// A packet encoded once, ready for any number of recipients: the Engine.IO text message and its binary
/// attachments, which travel as separate Engine.IO messages right after it.
/// </summary>
internal sealed class EncodedPacket(EngineIOOutgoingMessage text, EngineIOOutgoingMessage[]? attachments, PacketType type, string nsp, long id, ReadOnlyMemory<byte> data)
{
    public EngineIOOutgoingMessage Text { get; } = text;

    public EngineIOOutgoingMessage[]? Attachments { get; } = attachments;

    /// <summary>The packet's type as written, BINARY_EVENT / BINARY_ACK when it has attachments.</summary>
    public PacketType Type { get; } = type;

    public string Namespace { get; } = nsp;

    /// <summary>The ack id, or -1.</summary>
    public long Id { get; } = id;

    /// <summary>The payload's JSON (placeholders where binary goes): a slice of <see cref="Text"/>, not a copy.</summary>
    public ReadOnlyMemory<byte> Data { get; } = data;

    private sealed record Wire(SocketIOParser Parser, IReadOnlyList<EngineIOOutgoingMessage> Messages);

    // A reference, so that recipients on other threads see a whole pair (two threads at once may encode twice).
    private Wire? _wire;

    /// <summary>
    /// The packet in <paramref name="parser"/>'s encoding, made on first use and kept: a broadcast is encoded once for
    /// all its recipients whatever the parser (a server has one).
    /// </summary>
    public IReadOnlyList<EngineIOOutgoingMessage> WireFor(SocketIOParser parser)
    {
        if (Volatile.Read(ref _wire) is { } wire && ReferenceEquals(wire.Parser, parser))
        {
            return wire.Messages;
        }
        var messages = parser.Encode(ToContent());
        Volatile.Write(ref _wire, new Wire(parser, messages));
        return messages;
    }

    /// <summary>The packet's logical parts, for a parser: plain type, payload as a JsonElement, attachments copied.</summary>
    public SocketIOPacketContent ToContent()
    {
        var data = Data.IsEmpty ? default : JsonDocument.Parse(Data).RootElement.Clone();
        var attachments = Attachments is { } binary ? Array.ConvertAll(binary, static a => a.Body.ToArray()) : [];
        return new SocketIOPacketContent(PacketValidation.PlainType(Type), Namespace, data, attachments, Id);
    }
}

/// <summary>Pure Socket.IO v5 encoder.</summary>
internal static class PacketEncoder
{
    [ThreadStatic]
    private static ArrayBufferWriter<byte>? t_json;

    [ThreadStatic]
    private static Utf8JsonWriter? t_writer;

    /// <summary>Serialises a payload with <paramref name="write"/> and frames it as a packet.</summary>
    public static EncodedPacket Encode<TState>(PacketType type, string nsp, long id, TState state, Action<Utf8JsonWriter, TState>? write)
    {
        var json = t_json ??= new ArrayBufferWriter<byte>(256);
        json.ResetWrittenCount();
        ReadOnlyMemory<byte>[]? attachments = null;
        if (write is not null)
        {
            BinaryContext.BeginOutgoing();
            var writer = t_writer;
            if (writer is null)
            {
                t_writer = writer = new Utf8JsonWriter(json, new JsonWriterOptions { SkipValidation = false });
            }
            else
            {
                writer.Reset(json);
            }
            try
            {
                write(writer, state);
                writer.Flush();
            }
            catch
            {
                // A failed serialisation must not leave the thread's writer mid-document for the next packet.
                t_writer = null;
                throw;
            }
            finally
            {
                attachments = BinaryContext.EndOutgoing();
            }
        }
        if (attachments is not null)
        {
            type = type switch
            {
                PacketType.Event => PacketType.BinaryEvent,
                PacketType.Ack => PacketType.BinaryAck,
                _ => type,
            };
        }
        var packet = Frame(type, nsp, id, attachments?.Length ?? 0, json.WrittenSpan);
        var data = packet.AsMemory(packet.Length - json.WrittenCount);
        if (json.Capacity > 64 * 1024)
        {
            // Do not keep a huge buffer alive on this thread after one large message.
            t_json = null;
            t_writer = null;
        }
        EngineIOOutgoingMessage[]? binary = null;
        if (attachments is not null)
        {
            binary = new EngineIOOutgoingMessage[attachments.Length];
            for (var i = 0; i < attachments.Length; i++)
            {
                binary[i] = EngineIOOutgoingMessage.Binary(attachments[i]);
            }
        }
        return new EncodedPacket(EngineIOOutgoingMessage.FromPrefixedText(packet), binary, type, nsp, id, data);
    }

    /// <summary><c>4</c> (Engine.IO message) + type + [n-] + [nsp,] + [id] + json, in one exact-size array.</summary>
    private static byte[] Frame(PacketType type, string nsp, long id, int attachments, ReadOnlySpan<byte> json)
    {
        Span<byte> header = stackalloc byte[48];
        var length = 0;
        header[length++] = EngineIOOutgoingMessage.TextPrefix;
        header[length++] = (byte)('0' + (int)type);
        if (attachments > 0)
        {
            attachments.TryFormat(header[length..], out var written, default, CultureInfo.InvariantCulture);
            length += written;
            header[length++] = (byte)'-';
        }
        var nspBytes = nsp == "/" ? 0 : Encoding.UTF8.GetByteCount(nsp) + 1;
        var idLength = 0;
        Span<byte> idDigits = stackalloc byte[20];
        if (id >= 0)
        {
            id.TryFormat(idDigits, out idLength, default, CultureInfo.InvariantCulture);
        }
        var packet = new byte[length + nspBytes + idLength + json.Length];
        header[..length].CopyTo(packet);
        var pos = length;
        if (nspBytes > 0)
        {
            pos += Encoding.UTF8.GetBytes(nsp, packet.AsSpan(pos));
            packet[pos++] = (byte)',';
        }
        idDigits[..idLength].CopyTo(packet.AsSpan(pos));
        pos += idLength;
        json.CopyTo(packet.AsSpan(pos));
        return packet;
    }
}
