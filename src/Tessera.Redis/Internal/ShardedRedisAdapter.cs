using System.Buffers;
using System.Text.Json;
using MessagePack;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;
using Tessera.SocketIO;
using Tessera.SocketIO.Internal.Parser;

namespace Tessera.Redis.Internal;

/// <summary>
/// A Socket.IO adapter over Redis 7 sharded pub/sub (SSUBSCRIBE / SPUBLISH), wire-compatible with Node's
/// <c>createShardedAdapter</c> of <c>@socket.io/redis-adapter</c> 8.x, which is socket.io-adapter's ClusterAdapter:
/// every message is <c>{uid, nsp, type, data}</c>, JSON unless it carries binary (then msgpack), on
/// <c>&lt;prefix&gt;#&lt;nsp&gt;#</c> (plus <c>&lt;room&gt;#</c> for a broadcast to one room in the dynamic modes);
/// answers go to <c>&lt;prefix&gt;#&lt;nsp&gt;#&lt;requester uid&gt;#</c>.
/// </summary>
internal sealed partial class ShardedRedisAdapter : RedisAdapterBase
{
    // socket.io-adapter's ClusterAdapter MessageType.
    private const int Broadcast = 3;
    private const int SocketsJoin = 4;
    private const int SocketsLeave = 5;
    private const int DisconnectSockets = 6;
    private const int FetchSockets = 7;
    private const int FetchSocketsResponse = 8;
    private const int ServerSideEmit = 9;
    private const int ServerSideEmitResponse = 10;
    private const int BroadcastClientCount = 11;
    private const int BroadcastAck = 12;

    /// <summary>The length of a socket id, by which Node's sender tells a socket's own room (socket.io ids are 20 characters, as Tessera's).</summary>
    private const int SocketIdLength = 20;

    private readonly string _channel;
    private readonly RedisChannel _mainChannel;
    private readonly RedisChannel _responseChannel;
    private readonly RedisSubscriptionMode _mode;
    private readonly SemaphoreSlim _roomsGate = new(1, 1);
    private readonly Dictionary<string, ChannelMessageQueue> _roomChannels = new(StringComparer.Ordinal);

    public ShardedRedisAdapter(SocketIONamespace ns, RedisConnection redis, ILogger logger)
        : base(ns, redis, logger)
    {
        _mode = redis.Options.SubscriptionMode;
        _channel = redis.Options.KeyPrefix + "#" + ns.Name + "#";
        _mainChannel = RedisChannel.Sharded(_channel);
        _responseChannel = RedisChannel.Sharded(_channel + Uid + "#");
        var subscriber = redis.Multiplexer.GetSubscriber();
        // One queue per channel hands its messages over one at a time, in the order Redis delivered them: a join
        // requested before a fetch (both on the main channel) is applied before the fetch is answered.
        // Asynchronously: the adapter is made on a namespace's first handshake, which must not block a thread on Redis.
        Subscribed = SubscribeAllAsync(subscriber);
    }

    private async Task SubscribeAllAsync(ISubscriber subscriber)
    {
        (await subscriber.SubscribeAsync(_mainChannel).ConfigureAwait(false)).OnMessage(OnMessage);
        (await subscriber.SubscribeAsync(_responseChannel).ConfigureAwait(false)).OnMessage(OnMessage);
    }

    protected override async Task<long> ServerCountAsync()
    {
        var result = await Redis.Multiplexer.GetDatabase().ExecuteAsync("PUBSUB", "SHARDNUMSUB", _channel).ConfigureAwait(false);
        var pairs = (RedisResult[])result!;
        return pairs.Length >= 2 ? (long)pairs[1] : 0;
    }

    // ---- room channels (the dynamic modes) ----

    protected override bool TracksRooms => _mode != RedisSubscriptionMode.Static;

    /// <summary>Whether a room has a channel of its own: any room in dynamic-private, rooms other than a socket's own in dynamic.</summary>
    private bool HasOwnChannel(string room) => Local.HasRoom(room)
        && (_mode == RedisSubscriptionMode.DynamicPrivate || (_mode == RedisSubscriptionMode.Dynamic && Local.SocketRooms(room).Count == 0));

    /// <summary>
    /// Subscribes to the channels of rooms that now have a local socket and leaves those of rooms that no longer do.
    /// The task ends once Redis confirmed, so a room joined through <c>AddAllAsync</c> hears broadcasts from then on.
    /// </summary>
    protected override async Task RoomsChangedAsync(IEnumerable<string> rooms)
    {
        await _roomsGate.WaitAsync().ConfigureAwait(false);
        try
        {
            foreach (var room in rooms)
            {
                var wanted = HasOwnChannel(room);
                var subscribed = _roomChannels.TryGetValue(room, out var queue);
                try
                {
                    if (wanted && !subscribed)
                    {
                        queue = await Redis.Multiplexer.GetSubscriber().SubscribeAsync(RoomChannel(room)).ConfigureAwait(false);
                        queue.OnMessage(OnMessage);
                        _roomChannels[room] = queue;
                    }
                    else if (!wanted && subscribed)
                    {
                        _roomChannels.Remove(room);
                        await queue!.UnsubscribeAsync().ConfigureAwait(false);
                    }
                }
                catch (RedisException ex)
                {
                    Log.RoomChannelFailed(Logger, RoomChannel(room).ToString(), ex);
                }
            }
        }
        finally
        {
            _roomsGate.Release();
        }
    }

    private RedisChannel RoomChannel(string room) => RedisChannel.Sharded(_channel + room + "#");

    // ---- sending ----

    /// <summary>
    /// As Node's <c>computeChannel</c>: a broadcast (without acks) to exactly one room goes on that room's channel
    /// in dynamic-private, and in dynamic unless the room looks like a socket id; everything else on the main channel.
    /// </summary>
    private RedisChannel BroadcastChannel(BroadcastOptions options) =>
        options.Rooms.Count == 1 && options.Rooms.First() is var room
            && (_mode == RedisSubscriptionMode.DynamicPrivate || (_mode == RedisSubscriptionMode.Dynamic && room.Length != SocketIdLength))
            ? RoomChannel(room)
            : _mainChannel;

    protected override Task SendBroadcastAsync(SocketIOPacket packet, BroadcastOptions options) =>
        PublishAsync(BroadcastChannel(options), Encode(Broadcast, packet.Attachments, data =>
        {
            WritePacket(data, packet);
            WriteOptions(data, options, options.Volatile ? ("volatile", true) : null);
        }));

    protected override Task SendBroadcastWithAckAsync(string requestId, SocketIOPacket packet, BroadcastOptions options, TimeSpan timeout) =>
        PublishAsync(_mainChannel, Encode(Broadcast, packet.Attachments, data =>
        {
            WritePacket(data, packet);
            data.WriteString("requestId", requestId);
            WriteOptions(data, options, ("timeout", (long)timeout.TotalMilliseconds));
        }));

    protected override Task SendRequestAsync(Request request) => PublishAsync(_mainChannel, request.Kind switch
    {
        RequestKind.Join or RequestKind.Leave => Encode(request.Kind == RequestKind.Join ? SocketsJoin : SocketsLeave, [], data =>
        {
            WriteOptions(data, request.Options, null);
            WriteStrings(data, "rooms", request.Rooms ?? []);
        }),
        RequestKind.Disconnect => Encode(DisconnectSockets, [], data =>
        {
            WriteOptions(data, request.Options, null);
            data.WriteBoolean("close", request.Close);
        }),
        RequestKind.Fetch => Encode(FetchSockets, [], data =>
        {
            WriteOptions(data, request.Options, null);
            data.WriteString("requestId", request.RequestId);
        }),
        // Node tells an emit that waits for answers by the presence of requestId.
        _ => Encode(ServerSideEmit, [], data =>
        {
            if (request.RequestId is not null)
            {
                data.WriteString("requestId", request.RequestId);
            }
            data.WritePropertyName("packet");
            request.Event.WriteTo(data);
        }),
    });

    protected override Task SendResponseAsync(string requesterUid, Response response)
    {
        var (type, field) = response.Kind switch
        {
            ResponseKind.Sockets => (FetchSocketsResponse, "sockets"),
            ResponseKind.ClientCount => (BroadcastClientCount, "clientCount"),
            ResponseKind.Ack => (BroadcastAck, "packet"),
            _ => (ServerSideEmitResponse, "packet"),
        };
        var attachments = response.Buffers is { Count: > 0 } buffers ? buffers.Select(b => (ReadOnlyMemory<byte>)b).ToArray() : [];
        return PublishAsync(RedisChannel.Sharded(_channel + requesterUid + "#"), Encode(type, attachments, data =>
        {
            data.WriteString("requestId", response.RequestId);
            data.WritePropertyName(field);
            if (response.Kind == ResponseKind.ClientCount)
            {
                data.WriteNumberValue(response.ClientCount);
            }
            else if (response.Value.ValueKind == JsonValueKind.Undefined)
            {
                data.WriteNullValue();
            }
            else
            {
                response.Value.WriteTo(data);
            }
        }));
    }

    /// <summary>
    /// <c>{uid, nsp, type, data}</c> as Node's sharded adapter encodes it: JSON, or msgpack (binary inline) when the
    /// message carries attachments, which <paramref name="writeData"/> writes as placeholders.
    /// </summary>
    private byte[] Encode(int type, IReadOnlyList<ReadOnlyMemory<byte>> attachments, Action<Utf8JsonWriter> writeData)
    {
        var json = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(json))
        {
            writer.WriteStartObject();
            writer.WriteString("uid", Uid);
            writer.WriteString("nsp", Namespace.Name);
            writer.WriteNumber("type", type);
            writer.WriteStartObject("data");
            writeData(writer);
            writer.WriteEndObject();
            writer.WriteEndObject();
        }
        if (attachments.Count == 0)
        {
            return json.WrittenSpan.ToArray();
        }
        var buffer = new ArrayBufferWriter<byte>(json.WrittenCount + 64);
        var msgpack = new MessagePackWriter(buffer);
        MsgPackJson.Write(ref msgpack, json.WrittenMemory, attachments);
        msgpack.Flush();
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary><c>packet: {type, data, nsp}</c>; no id: each receiving node numbers the acks of its own sockets.</summary>
    private static void WritePacket(Utf8JsonWriter writer, SocketIOPacket packet)
    {
        writer.WriteStartObject("packet");
        writer.WriteNumber("type", packet.Type);
        if (!packet.Data.IsEmpty)
        {
            writer.WritePropertyName("data");
            writer.WriteRawValue(packet.Data.Span, skipInputValidation: true);
        }
        writer.WriteString("nsp", packet.Namespace);
        writer.WriteEndObject();
    }

    /// <summary><c>opts: {rooms, except, flags}</c>, flags holding at most one entry.</summary>
    private static void WriteOptions(Utf8JsonWriter writer, BroadcastOptions options, (string Name, object Value)? flag)
    {
        writer.WriteStartObject("opts");
        WriteStrings(writer, "rooms", options.Rooms);
        WriteStrings(writer, "except", options.Except);
        writer.WriteStartObject("flags");
        switch (flag)
        {
            case (var name, bool value):
                writer.WriteBoolean(name, value);
                break;
            case (var name, long value):
                writer.WriteNumber(name, value);
                break;
        }
        writer.WriteEndObject();
        writer.WriteEndObject();
    }

    private static void WriteStrings(Utf8JsonWriter writer, string name, IEnumerable<string> values)
    {
        writer.WriteStartArray(name);
        foreach (var value in values)
        {
            writer.WriteStringValue(value);
        }
        writer.WriteEndArray();
    }

    // ---- receiving ----

    /// <summary>Joins and leaves are awaited (room channels subscribed) before the channel's next message.</summary>
    private Task OnMessage(ChannelMessage m) => DecodeAsync(m.Channel, () => OnMessage(m.Message));

    private Task OnMessage(RedisValue raw)
    {
        var attachments = new List<byte[]>();
        if (Parse(raw, attachments) is not { ValueKind: JsonValueKind.Object } message
            || !message.TryGetProperty("uid", out var uid) || uid.ValueKind != JsonValueKind.String || uid.GetString() == Uid
            || !message.TryGetProperty("nsp", out var nsp) || nsp.ValueKind != JsonValueKind.String || nsp.GetString() != Namespace.Name
            || !message.TryGetProperty("data", out var data) || data.ValueKind != JsonValueKind.Object)
        {
            return Task.CompletedTask;
        }
        var requester = uid.GetString()!;
        data.TryGetProperty("opts", out var opts);
        var requestId = data.TryGetProperty("requestId", out var id) && id.ValueKind == JsonValueKind.String ? id.GetString() : null;
        switch (Type(message))
        {
            case Broadcast when data.TryGetProperty("packet", out var packet) && packet.ValueKind == JsonValueKind.Object:
                if (requestId is null)
                {
                    OnBroadcast(packet, opts, attachments);
                }
                else
                {
                    OnBroadcastWithAck(requester, requestId, packet, opts, attachments);
                }
                break;
            case SocketsJoin when opts.ValueKind == JsonValueKind.Object:
                return OnJoinAsync(opts, data);
            case SocketsLeave when opts.ValueKind == JsonValueKind.Object:
                return OnLeaveAsync(opts, data);
            case DisconnectSockets when opts.ValueKind == JsonValueKind.Object:
                OnDisconnect(opts, data.TryGetProperty("close", out var close) && close.ValueKind == JsonValueKind.True);
                break;
            case FetchSockets when requestId is not null:
                _ = OnFetchAsync(requester, requestId, opts);
                break;
            case ServerSideEmit when data.TryGetProperty("packet", out var packet):
                OnServerSideEmit(requester, packet, requestId);
                break;
            // Responses come on our own channel; Node's ClusterAdapter takes them on any, and so do we.
            case FetchSocketsResponse when requestId is not null && data.TryGetProperty("sockets", out var sockets) && sockets.ValueKind == JsonValueKind.Array:
                OnAnswer(requestId, sockets);
                break;
            case ServerSideEmitResponse when requestId is not null:
                // An answer of undefined has no packet.
                data.TryGetProperty("packet", out var answer);
                OnAnswer(requestId, answer);
                break;
            case BroadcastClientCount when requestId is not null && data.TryGetProperty("clientCount", out var count) && count.TryGetInt32(out var clients):
                OnClientCount(requestId, clients);
                break;
            case BroadcastAck when requestId is not null:
                data.TryGetProperty("packet", out var ack);
                OnAck(requestId, ack, attachments);
                break;
        }
        return Task.CompletedTask;
    }

    private static partial class Log
    {
        [LoggerMessage(403, LogLevel.Warning, "Could not (un)subscribe {Channel}; broadcasts to that room from other nodes may not arrive until its next join.")]
        public static partial void RoomChannelFailed(ILogger logger, string channel, Exception exception);
    }
}
