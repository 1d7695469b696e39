using Tessera.EngineIO;
using Tessera.SocketIO.Internal.Parser;

namespace Tessera.SocketIO;

/// <summary>
/// The wire format of Socket.IO packets (Node's <c>parser</c> option): how a packet becomes Engine.IO messages and back.
/// Every client of a server must use the server's parser. Set it with <see cref="SocketIOOptions.Parser"/>:
/// <see cref="Default"/> (socket.io-parser: JSON text, binary as separate attachments), <see cref="MessagePack"/>
/// (socket.io-msgpack-parser 3.x), or a class of your own.
/// </summary>
public abstract class SocketIOParser
{
    /// <summary>socket.io-parser, the official clients' default: a text message of JSON, binary in attachments after it.</summary>
    public static SocketIOParser Default { get; } = new JsonParser();

    /// <summary>
    /// socket.io-msgpack-parser 3.x: each packet is one binary message holding a msgpack map <c>{type, nsp, data, id?}</c>,
    /// binary inline as msgpack bin values (keys other than these four, such as the client's <c>options</c>, are ignored).
    /// </summary>
    public static SocketIOParser MessagePack { get; } = new MsgPackParser();

    /// <summary>
    /// Encodes a packet into the Engine.IO messages it travels as, in order. Called once per packet however many
    /// sockets receive it; the messages returned must not change afterwards.
    /// </summary>
    /// <param name="packet">The packet: type (binary types reported as 2 and 3), namespace, payload with binary placeholders, attachments, ack id.</param>
    public abstract IReadOnlyList<EngineIOOutgoingMessage> Encode(SocketIOPacketContent packet);

    /// <summary>A decoder for one connection; it may keep state between messages (a packet waiting for its attachments).</summary>
    public abstract SocketIOPacketDecoder CreateDecoder();
}

/// <summary>Decodes the Engine.IO messages of one connection into Socket.IO packets. Its calls are never concurrent.</summary>
public abstract class SocketIOPacketDecoder
{
    /// <summary>Adds one message; returns the packet it completes, or null while a packet waits for more messages.</summary>
    /// <param name="message">The message; its bytes are valid only during the call (copy what the packet keeps).</param>
    /// <returns>
    /// The packet: type 0 to 6, namespace, payload (<see cref="System.Text.Json.JsonValueKind.Undefined"/> for none) with
    /// <c>{"_placeholder":true,"num":n}</c> where binary goes, attachments, ack id or -1.
    /// </returns>
    /// <exception cref="FormatException">The message is malformed; the server then closes the connection, as Node does.</exception>
    public abstract SocketIOPacketContent? Add(EngineIOMessage message);

    /// <summary>Decodes into the server's own packet, validated as every packet is (Node's socket.io-parser rules).</summary>
    internal virtual Packet? AddPacket(EngineIOMessage message, out string? error)
    {
        SocketIOPacketContent? content;
        try
        {
            content = Add(message);
        }
        catch (FormatException ex)
        {
            error = ex.Message;
            return null;
        }
        error = null;
        return content is null ? null : PacketValidation.FromContent(content, out error);
    }
}
