using System.Buffers;
using System.Text.Json;
using MessagePack;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;
using Tessera.SocketIO.Internal.Parser;
using Tessera.SocketIO;

namespace Tessera.Redis.Internal;

/// <summary>
/// A Socket.IO adapter over Redis pub/sub, wire-compatible with Node's <c>@socket.io/redis-adapter</c> 8.x
/// <c>createAdapter</c> (default options): broadcasts as msgpack <c>[uid, packet, opts]</c> on <c>socket.io#&lt;nsp&gt;#</c>
/// (plus <c>&lt;room&gt;#</c> for a single room), requests and responses as JSON on <c>socket.io-request#&lt;nsp&gt;#</c> /
/// <c>socket.io-response#&lt;nsp&gt;#</c>. Local work goes through the in-memory adapter it wraps, so a node keeps
/// serving its own clients while Redis is away.
/// </summary>
internal sealed class RedisAdapter : RedisAdapterBase
{
    private const int Sockets = 0;
    private const int AllRooms = 1;
    private const int RemoteJoin = 2;
    private const int RemoteLeave = 3;
    private const int RemoteDisconnect = 4;
    private const int RemoteFetch = 5;
    private const int ServerSideEmit = 6;
    private const int BroadcastWithAck = 7;
    private const int BroadcastClientCount = 8;
    private const int BroadcastAck = 9;

    private readonly string _channel;
    private readonly RedisChannel _requestChannel;
    private readonly RedisChannel _responseChannel;

    public RedisAdapter(SocketIONamespace ns, RedisConnection redis, ILogger logger)
        : base(ns, redis, logger)
    {
        var prefix = redis.Options.KeyPrefix;
        _channel = prefix + "#" + ns.Name + "#";
        _requestChannel = RedisChannel.Literal(prefix + "-request#" + ns.Name + "#");
        _responseChannel = RedisChannel.Literal(prefix + "-response#" + ns.Name + "#");
        var subscriber = redis.Multiplexer.GetSubscriber();
        // Handlers given to Subscribe run concurrently; a queue hands messages over one at a time, in the order Redis
        // delivered them, as Node's adapter sees them: two broadcasts reach clients in the order they were sent, and
        // a join requested before a fetch is applied before the fetch is answered.
        // Peers configured with publishOnSpecificResponseChannel answer on a channel of our own.
        var specific = RedisChannel.Literal(prefix + "-response#" + ns.Name + "#" + Uid + "#");
        // Asynchronously: the adapter is made on a namespace's first handshake, which must not block a thread on Redis.
        Subscribed = SubscribeAllAsync(subscriber, specific);
    }

    private async Task SubscribeAllAsync(ISubscriber subscriber, RedisChannel specific)
    {
        (await subscriber.SubscribeAsync(RedisChannel.Pattern(_channel + "*")).ConfigureAwait(false))
            .OnMessage(m => Decode(m.Channel, () => OnBroadcastMessage(m.Channel, m.Message)));
        (await subscriber.SubscribeAsync(_requestChannel).ConfigureAwait(false)).OnMessage(m => Decode(_requestChannel, () => OnRequest(m.Message)));
        await subscriber.SubscribeAsync(_responseChannel, (_, message) => Decode(_responseChannel, () => OnResponse(message))).ConfigureAwait(false);
        await subscriber.SubscribeAsync(specific, (_, message) => Decode(specific, () => OnResponse(message))).ConfigureAwait(false);
    }

    protected override async Task<long> ServerCountAsync()
    {
        var result = await Redis.Multiplexer.GetDatabase().ExecuteAsync("PUBSUB", "NUMSUB", _requestChannel.ToString()).ConfigureAwait(false);
        var pairs = (RedisResult[])result!;
        return pairs.Length >= 2 ? (long)pairs[1] : 0;
    }

    // ---- sending ----

    protected override Task SendBroadcastAsync(SocketIOPacket packet, BroadcastOptions options)
    {
        var channel = options.Rooms.Count == 1 ? _channel + options.Rooms.First() + "#" : _channel;
        return PublishAsync(RedisChannel.Literal(channel), EncodeBroadcast(packet, options));
    }

    protected override Task SendBroadcastWithAckAsync(string requestId, SocketIOPacket packet, BroadcastOptions options, TimeSpan timeout) =>
        PublishAsync(_requestChannel, EncodeBroadcastWithAck(requestId, packet, options, timeout));

    private static void WriteOpts(Utf8JsonWriter writer, BroadcastOptions options)
    {
        writer.WriteStartObject("opts");
        JsonMessage.Strings(writer, "rooms", options.Rooms);
        JsonMessage.Strings(writer, "except", options.Except);
        writer.WriteEndObject();
    }

    protected override Task SendRequestAsync(Request request) => PublishAsync(_requestChannel, JsonMessage.Bytes((Uid, request), static (w, state) =>
    {
        var (uid, request) = state;
        w.WriteStartObject();
        w.WriteString("uid", uid);
        // Node tells a fetch, and an emit that waits for answers, by the presence of requestId.
        if (request.Kind == RequestKind.Fetch || (request.Kind == RequestKind.ServerSideEmit && request.RequestId is not null))
        {
            w.WriteString("requestId", request.RequestId);
        }
        w.WriteNumber("type", request.Kind switch
        {
            RequestKind.Join => RemoteJoin,
            RequestKind.Leave => RemoteLeave,
            RequestKind.Disconnect => RemoteDisconnect,
            RequestKind.Fetch => RemoteFetch,
            _ => ServerSideEmit,
        });
        if (request.Kind == RequestKind.ServerSideEmit)
        {
            w.WritePropertyName("data");
            request.Event.WriteTo(w);
        }
        else
        {
            WriteOpts(w, request.Options);
        }
        if (request.Kind is RequestKind.Join or RequestKind.Leave)
        {
            JsonMessage.Strings(w, "rooms", request.Rooms ?? []);
        }
        else if (request.Kind == RequestKind.Disconnect)
        {
            w.WriteBoolean("close", request.Close);
        }
        w.WriteEndObject();
    }));

    /// <summary>Answers on the shared response channel, as Node's adapter does by default.</summary>
    protected override Task SendResponseAsync(string requesterUid, Response response) => PublishAsync(_responseChannel, response.Kind == ResponseKind.Ack
        ? EncodeAck(response.RequestId, response.Value, response.Buffers ?? [])
        : JsonMessage.Bytes(response, static (w, response) =>
        {
            w.WriteStartObject();
            if (response.Kind != ResponseKind.Sockets)
            {
                w.WriteNumber("type", response.Kind == ResponseKind.ClientCount ? BroadcastClientCount : ServerSideEmit);
            }
            w.WriteString("requestId", response.RequestId);
            if (response.Kind == ResponseKind.ClientCount)
            {
                w.WriteNumber("clientCount", response.ClientCount);
            }
            else
            {
                w.WritePropertyName(response.Kind == ResponseKind.Sockets ? "sockets" : "data");
                response.Value.WriteTo(w);
            }
            w.WriteEndObject();
        }));

    private byte[] EncodeBroadcast(SocketIOPacket packet, BroadcastOptions options)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        var writer = new MessagePackWriter(buffer);
        writer.WriteArrayHeader(3);
        writer.Write(Uid);
        using (var document = packet.Data.IsEmpty ? null : JsonDocument.Parse(packet.Data))
        {
            MsgPackJson.WritePacket(ref writer, packet.Type, packet.Namespace, document?.RootElement ?? default, packet.Attachments);
        }
        WriteOptions(ref writer, options, timeout: null);
        writer.Flush();
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>A broadcast expecting acks: a msgpack request (type 7), as Node's adapter sends it.</summary>
    private byte[] EncodeBroadcastWithAck(string requestId, SocketIOPacket packet, BroadcastOptions options, TimeSpan timeout)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        var writer = new MessagePackWriter(buffer);
        writer.WriteMapHeader(5);
        writer.Write("uid");
        writer.Write(Uid);
        writer.Write("requestId");
        writer.Write(requestId);
        writer.Write("type");
        writer.Write(BroadcastWithAck);
        writer.Write("packet");
        // No id: each receiving node numbers the acks of its own sockets.
        using (var document = JsonDocument.Parse(packet.Data))
        {
            MsgPackJson.WritePacket(ref writer, 2, packet.Namespace, document.RootElement, packet.Attachments);
        }
        writer.Write("opts");
        WriteOptions(ref writer, options, timeout);
        writer.Flush();
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>
    /// <c>{rooms, except, flags}</c> as Node's adapter writes them: flags hold <c>volatile</c> for a broadcast, and the
    /// <c>timeout</c> (ms) for one that expects acks.
    /// </summary>
    private static void WriteOptions(ref MessagePackWriter writer, BroadcastOptions options, TimeSpan? timeout)
    {
        writer.WriteMapHeader(3);
        writer.Write("rooms");
        WriteStrings(ref writer, options.Rooms);
        writer.Write("except");
        WriteStrings(ref writer, options.Except);
        writer.Write("flags");
        if (timeout is { } wait)
        {
            writer.WriteMapHeader(1);
            writer.Write("timeout");
            writer.Write((long)wait.TotalMilliseconds);
            return;
        }
        writer.WriteMapHeader(options.Volatile ? 1 : 0);
        if (options.Volatile)
        {
            writer.Write("volatile");
            writer.Write(true);
        }
    }

    private static void WriteStrings(ref MessagePackWriter writer, IReadOnlySet<string> values)
    {
        writer.WriteArrayHeader(values.Count);
        foreach (var value in values)
        {
            writer.Write(value);
        }
    }

    /// <summary>A client's first ack argument, msgpack (type 9), as Node's adapter forwards it.</summary>
    private static byte[] EncodeAck(string requestId, JsonElement value, IReadOnlyList<byte[]> attachments)
    {
        var buffer = new ArrayBufferWriter<byte>(128);
        var writer = new MessagePackWriter(buffer);
        writer.WriteMapHeader(3);
        writer.Write("type");
        writer.Write(BroadcastAck);
        writer.Write("requestId");
        writer.Write(requestId);
        writer.Write("packet");
        if (value.ValueKind != JsonValueKind.Undefined)
        {
            MsgPackJson.Write(ref writer, value, attachments);
        }
        else
        {
            writer.WriteNil();
        }
        writer.Flush();
        return buffer.WrittenSpan.ToArray();
    }

    // ---- receiving ----

    private void OnBroadcastMessage(RedisChannel channel, RedisValue message)
    {
        var name = channel.ToString();
        if (!name.StartsWith(_channel, StringComparison.Ordinal))
        {
            return;
        }
        // A message for one room is only worth decoding if a local socket is in it.
        var room = name.Length > _channel.Length ? name[_channel.Length..^1] : string.Empty;
        if (room.Length > 0 && !Local.HasRoom(room))
        {
            return;
        }
        var reader = new MessagePackReader((ReadOnlyMemory<byte>)message);
        if (reader.ReadArrayHeader() < 3 || reader.ReadString() == Uid)
        {
            return;
        }
        var attachments = new List<byte[]>();
        var packet = MsgPackJson.ReadElement(ref reader, attachments);
        var opts = MsgPackJson.ReadElement(ref reader, []);
        if (PacketNamespace(packet) == Namespace.Name)
        {
            OnBroadcast(packet, opts, attachments);
        }
    }

    private void OnRequest(RedisValue message)
    {
        var attachments = new List<byte[]>();
        if (Parse(message, attachments) is not { ValueKind: JsonValueKind.Object } request
            || (request.TryGetProperty("uid", out var uid) && uid.ValueKind == JsonValueKind.String && uid.GetString() == Uid))
        {
            return;
        }
        var requester = uid.ValueKind == JsonValueKind.String ? uid.GetString()! : string.Empty;
        request.TryGetProperty("opts", out var opts);
        switch (Type(request))
        {
            case RemoteJoin when opts.ValueKind == JsonValueKind.Object:
                _ = OnJoinAsync(opts, request);
                break;
            case RemoteLeave when opts.ValueKind == JsonValueKind.Object:
                _ = OnLeaveAsync(opts, request);
                break;
            case RemoteDisconnect when opts.ValueKind == JsonValueKind.Object:
                OnDisconnect(opts, request.TryGetProperty("close", out var close) && close.ValueKind == JsonValueKind.True);
                break;
            case RemoteFetch:
                _ = OnFetchAsync(requester, RequestId(request), opts);
                break;
            case Sockets:
                _ = AnswerSocketsAsync(RequestId(request), Strings(request, "rooms"));
                break;
            case ServerSideEmit when request.TryGetProperty("data", out var data):
                OnServerSideEmit(requester, data, request.TryGetProperty("requestId", out var id) && id.ValueKind == JsonValueKind.String ? id.GetString() : null);
                break;
            case AllRooms:
                _ = GuardAsync(PublishAsync(_responseChannel, JsonMessage.Bytes((RequestId(request), Local.AllRooms()), static (w, state) =>
                {
                    w.WriteStartObject();
                    w.WriteString("requestId", state.Item1);
                    JsonMessage.Strings(w, "rooms", state.Item2);
                    w.WriteEndObject();
                })));
                break;
            case BroadcastWithAck when request.TryGetProperty("packet", out var packet) && PacketNamespace(packet) == Namespace.Name:
                OnBroadcastWithAck(requester, RequestId(request), packet, opts, attachments);
                break;
        }
    }

    private async Task AnswerSocketsAsync(string requestId, HashSet<string> rooms)
    {
        var sockets = await Local.FetchSocketsAsync(new BroadcastOptions { Rooms = rooms, Local = true }).ConfigureAwait(false);
        await GuardAsync(PublishAsync(_responseChannel, JsonMessage.Bytes((requestId, sockets), static (w, state) =>
        {
            w.WriteStartObject();
            w.WriteString("requestId", state.requestId);
            JsonMessage.Strings(w, "sockets", state.sockets.Select(s => s.Id));
            w.WriteEndObject();
        }))).ConfigureAwait(false);
    }

    private void OnResponse(RedisValue message)
    {
        var attachments = new List<byte[]>();
        if (Parse(message, attachments) is not { ValueKind: JsonValueKind.Object } response
            || !response.TryGetProperty("requestId", out var id) || id.ValueKind != JsonValueKind.String)
        {
            return;
        }
        var requestId = id.GetString()!;
        switch (Type(response))
        {
            case BroadcastClientCount when response.TryGetProperty("clientCount", out var count) && count.TryGetInt32(out var clients):
                OnClientCount(requestId, clients);
                break;
            case BroadcastAck:
                response.TryGetProperty("packet", out var packet);
                OnAck(requestId, packet, attachments);
                break;
            case ServerSideEmit:
                // Node leaves data out when the handler answered undefined.
                response.TryGetProperty("data", out var data);
                OnAnswer(requestId, data);
                break;
            // A fetchSockets answer has no type.
            case -1 when response.TryGetProperty("sockets", out var sockets) && sockets.ValueKind == JsonValueKind.Array:
                OnAnswer(requestId, sockets);
                break;
        }
    }
}
