using System.Text.Json;
using Tessera.SocketIO.Internal.Parser;

namespace Tessera.SocketIO.Internal;

/// <summary>Builds the packets the server sends, serialising arguments with the server's options.</summary>
internal static class PacketWriter
{
    /// <param name="ns">The namespace the event is sent in.</param>
    /// <param name="eventName">The event's name.</param>
    /// <param name="args">Its arguments.</param>
    /// <param name="id">The ack id, or -1.</param>
    /// <param name="offset">With connection state recovery: the offset, written as one more, last argument (Node's format).</param>
    public static EncodedPacket Event(SocketIONamespace ns, string eventName, object?[] args, long id, string? offset = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(eventName);
        if (PacketDecoder.IsReservedEvent(eventName))
        {
            throw new ArgumentException($"\"{eventName}\" is a reserved event name.", nameof(eventName));
        }
        return PacketEncoder.Encode(PacketType.Event, ns.Name, id, (eventName, args, ns.Server.Options.SerializerOptions, offset),
            static (writer, state) =>
            {
                writer.WriteStartArray();
                writer.WriteStringValue(state.eventName);
                WriteArgs(writer, state.args, state.SerializerOptions);
                if (state.offset is not null)
                {
                    writer.WriteStringValue(state.offset);
                }
                writer.WriteEndArray();
            });
    }

    /// <summary>
    /// An event without ack: with connection state recovery, given an offset and kept in the namespace's log (unless volatile,
    /// which is neither replayed nor given an offset, as Node).
    /// </summary>
    public static EncodedPacket RecordedEvent(SocketIONamespace ns, string eventName, object?[] args, IReadOnlySet<string> rooms, IReadOnlySet<string> except, bool isVolatile)
    {
        if (isVolatile || ns.Recovery is not { } log)
        {
            return Event(ns, eventName, args, -1);
        }
        var offset = log.NextOffset();
        var packet = Event(ns, eventName, args, -1, offset);
        log.Append(offset, rooms, except, packet);
        return packet;
    }

    public static EncodedPacket Connect(string nsp, string socketId, string? pid) =>
        pid is null ? Connect(nsp, socketId) : PacketEncoder.Encode(PacketType.Connect, nsp, -1, (socketId, pid), static (writer, state) =>
        {
            writer.WriteStartObject();
            writer.WriteString("sid", state.socketId);
            writer.WriteString("pid", state.pid);
            writer.WriteEndObject();
        });

    public static EncodedPacket Ack(SocketIONamespace ns, long id, object?[] args) =>
        PacketEncoder.Encode(PacketType.Ack, ns.Name, id, (args, ns.Server.Options.SerializerOptions),
            static (writer, state) =>
            {
                writer.WriteStartArray();
                WriteArgs(writer, state.args, state.SerializerOptions);
                writer.WriteEndArray();
            });

    public static EncodedPacket Connect(string nsp, string socketId) =>
        PacketEncoder.Encode(PacketType.Connect, nsp, -1, socketId, static (writer, sid) =>
        {
            writer.WriteStartObject();
            writer.WriteString("sid", sid);
            writer.WriteEndObject();
        });

    public static EncodedPacket ConnectError(string nsp, string message, object? data, JsonSerializerOptions options) =>
        PacketEncoder.Encode(PacketType.ConnectError, nsp, -1, (message, data, options), static (writer, state) =>
        {
            writer.WriteStartObject();
            writer.WriteString("message", state.message);
            if (state.data is not null)
            {
                writer.WritePropertyName("data");
                WriteValue(writer, state.data, state.options);
            }
            writer.WriteEndObject();
        });

    /// <summary>Protocol v4's CONNECT reply: no payload.</summary>
    public static EncodedPacket ConnectV4(string nsp) =>
        PacketEncoder.Encode<object?>(PacketType.Connect, nsp, -1, null, null);

    /// <summary>Protocol v4's refusal: an ERROR packet (type 4, CONNECT_ERROR's number) carrying the error's data, or its message.</summary>
    public static EncodedPacket ErrorV4(string nsp, object payload, JsonSerializerOptions options) =>
        PacketEncoder.Encode(PacketType.ConnectError, nsp, -1, (payload, options), static (writer, state) => WriteValue(writer, state.payload, state.options));

    public static EncodedPacket Disconnect(SocketIONamespace ns) =>
        PacketEncoder.Encode<object?>(PacketType.Disconnect, ns.Name, -1, null, null);

    private static void WriteArgs(Utf8JsonWriter writer, object?[] args, JsonSerializerOptions options)
    {
        foreach (var arg in args)
        {
            if (arg is SocketIOArgs relayed)
            {
                // Relaying received arguments: they spread, binary attachments included.
                relayed.WriteItems(writer);
            }
            else
            {
                WriteValue(writer, arg, options);
            }
        }
    }

    private static void WriteValue(Utf8JsonWriter writer, object? value, JsonSerializerOptions options)
    {
        switch (value)
        {
            case null:
                writer.WriteNullValue();
                break;
            case string text:
                writer.WriteStringValue(text);
                break;
            case JsonElement element:
                element.WriteTo(writer);
                break;
            case SocketIOValue relayed:
                relayed.WriteTo(writer);
                break;
            case byte[] bytes:
                BinaryContext.WritePlaceholder(writer, bytes);
                break;
            case ReadOnlyMemory<byte> memory:
                BinaryContext.WritePlaceholder(writer, memory);
                break;
            default:
                Json.Serialize(writer, value, options);
                break;
        }
    }
}
