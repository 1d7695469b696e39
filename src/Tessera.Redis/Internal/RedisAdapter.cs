using System.Buffers;
using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using MessagePack;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;
using Tessera.SocketIO.Internal.Parser;
using Tessera.SocketIO;

namespace Tessera.Redis.Internal;

/// <summary>
/// A Socket.IO adapter over Redis pub/sub, wire-compatible with Node's <c>@socket.io/redis-adapter</c> 8.x
/// (default options): broadcasts as msgpack <c>[uid, packet, opts]</c> on <c>socket.io#&lt;nsp&gt;#</c> (plus
/// <c>&lt;room&gt;#</c> for a single room), requests and responses as JSON on <c>socket.io-request#&lt;nsp&gt;#</c> /
/// <c>socket.io-response#&lt;nsp&gt;#</c>. Local work goes through the in-memory adapter it wraps, so a node keeps
/// serving its own clients while Redis is away.
/// </summary>
internal sealed partial class RedisAdapter : ISocketIOAdapter
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

    private readonly SocketIONamespace _ns;
    private readonly InMemoryAdapter _local;
    private readonly RedisConnection _redis;
    private readonly ILogger _logger;
    private readonly string _uid = RandomId();
    private readonly string _channel;
    private readonly RedisChannel _requestChannel;
    private readonly RedisChannel _responseChannel;
    private readonly ConcurrentDictionary<string, PendingFetch> _fetches = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, (Action<int> ClientCount, Action<SocketIOArgs> Ack)> _ackRequests = new(StringComparer.Ordinal);

    public RedisAdapter(SocketIONamespace ns, RedisConnection redis, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(ns);
        ArgumentNullException.ThrowIfNull(redis);
        _ns = ns;
        _redis = redis;
        _logger = logger;
        _local = new InMemoryAdapter(ns);
        var prefix = redis.Options.KeyPrefix;
        _channel = prefix + "#" + ns.Name + "#";
        _requestChannel = RedisChannel.Literal(prefix + "-request#" + ns.Name + "#");
        _responseChannel = RedisChannel.Literal(prefix + "-response#" + ns.Name + "#");
        var subscriber = redis.Multiplexer.GetSubscriber();
        // Handlers given to Subscribe run concurrently; a queue hands messages over one at a time, in the order Redis
        // delivered them, as Node's adapter sees them: two broadcasts reach clients in the order they were sent, and
        // a join requested before a fetch is applied before the fetch is answered.
        subscriber.Subscribe(RedisChannel.Pattern(_channel + "*")).OnMessage(m => OnBroadcast(m.Channel, m.Message));
        subscriber.Subscribe(_requestChannel).OnMessage(m => OnRequest(m.Message));
        subscriber.Subscribe(_responseChannel, (_, message) => OnResponse(message));
        // Peers configured with publishOnSpecificResponseChannel answer on a channel of our own.
        subscriber.Subscribe(RedisChannel.Literal(prefix + "-response#" + ns.Name + "#" + _uid + "#"), (_, message) => OnResponse(message));
    }

    /// <summary>uid2-style id: 6 characters from [A-Za-z0-9], like Node's adapter.</summary>
    private static string RandomId()
    {
        const string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        Span<char> id = stackalloc char[12];
        for (var i = 0; i < id.Length; i++)
        {
            id[i] = alphabet[RandomNumberGenerator.GetInt32(alphabet.Length)];
        }
        return new string(id);
    }

    private ISubscriber Publisher => _redis.Multiplexer.GetSubscriber();

    // ---- local membership: the in-memory adapter ----

    public ValueTask AddAllAsync(string socketId, IReadOnlyCollection<string> rooms) => _local.AddAllAsync(socketId, rooms);

    public ValueTask DelAsync(string socketId, string room) => _local.DelAsync(socketId, room);

    public ValueTask DelAllAsync(string socketId) => _local.DelAllAsync(socketId);

    public IReadOnlySet<string> SocketRooms(string socketId) => _local.SocketRooms(socketId);

    // ---- broadcasts ----

    public async ValueTask BroadcastAsync(SocketIOPacket packet, BroadcastOptions options)
    {
        if (!options.Local)
        {
            var channel = options.Rooms.Count == 1 ? _channel + options.Rooms.First() + "#" : _channel;
            await PublishAsync(RedisChannel.Literal(channel), EncodeBroadcast(packet, options)).ConfigureAwait(false);
        }
        await _local.BroadcastAsync(packet, options).ConfigureAwait(false);
    }

    /// <summary>
    /// Broadcast expecting acks on every node: a msgpack request (type 7); each other node answers with its client
    /// count (type 8) and forwards each client's first ack argument (type 9), as Node's adapter does.
    /// </summary>
    public async ValueTask<int> BroadcastWithAckAsync(SocketIOPacket packet, BroadcastOptions options, Action<int> clientCount, Action<SocketIOArgs> ack)
    {
        var reports = 0;
        if (!options.Local && _redis.IsConnected)
        {
            long servers = 0;
            try
            {
                servers = await ServerCountAsync().ConfigureAwait(false);
            }
            catch (RedisException ex)
            {
                Log.RedisFailed(_logger, ex);
            }
            if (servers > 1)
            {
                var requestId = RandomId();
                _ackRequests[requestId] = (clientCount, ack);
                // Responses stop mattering after the sender's timeout: forget the request then.
                var timeout = options.AckTimeout ?? _ns.Server.Options.AckTimeout;
                _ = Task.Delay(timeout).ContinueWith(_ => _ackRequests.TryRemove(requestId, out var _), TaskScheduler.Default);
                await PublishAsync(_requestChannel, EncodeBroadcastWithAck(requestId, packet, options, timeout)).ConfigureAwait(false);
                reports += (int)servers - 1;
            }
        }
        return reports + await _local.BroadcastWithAckAsync(packet, options, clientCount, ack).ConfigureAwait(false);
    }

    private byte[] EncodeBroadcastWithAck(string requestId, SocketIOPacket packet, BroadcastOptions options, TimeSpan timeout)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        var writer = new MessagePackWriter(buffer);
        writer.WriteMapHeader(5);
        writer.Write("uid");
        writer.Write(_uid);
        writer.Write("requestId");
        writer.Write(requestId);
        writer.Write("type");
        writer.Write(BroadcastWithAck);
        writer.Write("packet");
        // No id: each receiving node numbers the acks of its own sockets.
        writer.WriteMapHeader(3);
        writer.Write("type");
        writer.Write(2);
        writer.Write("data");
        MsgPackJson.Write(ref writer, packet.Data, packet.Attachments);
        writer.Write("nsp");
        writer.Write(packet.Namespace);
        writer.Write("opts");
        writer.WriteMapHeader(3);
        writer.Write("rooms");
        WriteStrings(ref writer, options.Rooms);
        writer.Write("except");
        WriteStrings(ref writer, options.Except);
        writer.Write("flags");
        writer.WriteMapHeader(1);
        writer.Write("timeout");
        writer.Write((long)timeout.TotalMilliseconds);
        writer.Flush();
        return buffer.WrittenSpan.ToArray();
    }

    public bool ReachesOtherNodes => true;

    public async ValueTask ServerSideEmitAsync(string eventName, SocketIOValue[] args)
    {
        var data = new List<object?> { eventName };
        data.AddRange(args.Select(a => (object?)a.Element));
        await PublishJsonAsync(new { uid = _uid, type = ServerSideEmit, data }).ConfigureAwait(false);
    }

    private byte[] EncodeBroadcast(SocketIOPacket packet, BroadcastOptions options)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        var writer = new MessagePackWriter(buffer);
        writer.WriteArrayHeader(3);
        writer.Write(_uid);
        var hasData = !packet.Data.IsEmpty;
        writer.WriteMapHeader(hasData ? 3 : 2);
        writer.Write("type");
        writer.Write(packet.Type);
        if (hasData)
        {
            writer.Write("data");
            MsgPackJson.Write(ref writer, packet.Data, packet.Attachments);
        }
        writer.Write("nsp");
        writer.Write(packet.Namespace);
        writer.WriteMapHeader(3);
        writer.Write("rooms");
        WriteStrings(ref writer, options.Rooms);
        writer.Write("except");
        WriteStrings(ref writer, options.Except);
        writer.Write("flags");
        writer.WriteMapHeader(options.Volatile ? 1 : 0);
        if (options.Volatile)
        {
            writer.Write("volatile");
            writer.Write(true);
        }
        writer.Flush();
        return buffer.WrittenSpan.ToArray();
    }

    private static void WriteStrings(ref MessagePackWriter writer, IReadOnlySet<string> values)
    {
        writer.WriteArrayHeader(values.Count);
        foreach (var value in values)
        {
            writer.Write(value);
        }
    }

    private void OnBroadcast(RedisChannel channel, RedisValue message)
    {
        try
        {
            var name = channel.ToString();
            if (!name.StartsWith(_channel, StringComparison.Ordinal))
            {
                return;
            }
            // A message for one room is only worth decoding if a local socket is in it.
            var room = name.Length > _channel.Length ? name[_channel.Length..^1] : string.Empty;
            if (room.Length > 0 && !_local.HasRoom(room))
            {
                return;
            }
            var bytes = (ReadOnlyMemory<byte>)message;
            var reader = new MessagePackReader(bytes);
            if (reader.ReadArrayHeader() < 3 || reader.ReadString() == _uid)
            {
                return;
            }
            var attachments = new List<byte[]>();
            var packet = MsgPackJson.ReadElement(ref reader, attachments);
            var opts = MsgPackJson.ReadElement(ref reader, []);
            var nsp = packet.TryGetProperty("nsp", out var n) && n.ValueKind == JsonValueKind.String ? n.GetString()! : "/";
            if (nsp != _ns.Name)
            {
                return;
            }
            var type = packet.TryGetProperty("type", out var t) && t.TryGetInt32(out var value) ? value : 2;
            var id = packet.TryGetProperty("id", out var i) && i.TryGetInt64(out var ackId) ? ackId : -1;
            packet.TryGetProperty("data", out var data);
            var local = new SocketIOPacketContent(type, nsp, data, attachments, id).ToPacket();
            var options = new BroadcastOptions
            {
                Rooms = Strings(opts, "rooms"),
                Except = Strings(opts, "except"),
                Volatile = opts.TryGetProperty("flags", out var flags) && flags.ValueKind == JsonValueKind.Object
                    && flags.TryGetProperty("volatile", out var v) && v.ValueKind == JsonValueKind.True,
            };
            _ = _local.BroadcastAsync(local, options);
        }
        catch (Exception ex) when (ex is MessagePackSerializationException or JsonException or InvalidOperationException or ArgumentException or EndOfStreamException)
        {
            Log.MalformedMessage(_logger, _channel, ex.GetType().Name);
        }
    }

    private static HashSet<string> Strings(JsonElement element, string name)
    {
        var set = new HashSet<string>(StringComparer.Ordinal);
        if (element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var array) && array.ValueKind == JsonValueKind.Array)
        {
            foreach (var item in array.EnumerateArray())
            {
                if (item.ValueKind == JsonValueKind.String)
                {
                    set.Add(item.GetString()!);
                }
                else if (item.ValueKind == JsonValueKind.Number)
                {
                    set.Add(item.GetRawText());
                }
            }
        }
        return set;
    }

    // ---- requests to other nodes ----

    private static object Opts(BroadcastOptions options) => new { rooms = options.Rooms.ToArray(), except = options.Except.ToArray() };

    public async ValueTask AddSocketsAsync(BroadcastOptions options, IReadOnlyCollection<string> rooms)
    {
        if (!options.Local)
        {
            await PublishJsonAsync(new { uid = _uid, type = RemoteJoin, opts = Opts(options), rooms }).ConfigureAwait(false);
        }
        await _local.AddSocketsAsync(options, rooms).ConfigureAwait(false);
    }

    public async ValueTask DelSocketsAsync(BroadcastOptions options, IReadOnlyCollection<string> rooms)
    {
        if (!options.Local)
        {
            await PublishJsonAsync(new { uid = _uid, type = RemoteLeave, opts = Opts(options), rooms }).ConfigureAwait(false);
        }
        await _local.DelSocketsAsync(options, rooms).ConfigureAwait(false);
    }

    public async ValueTask DisconnectSocketsAsync(BroadcastOptions options, bool close)
    {
        if (!options.Local)
        {
            await PublishJsonAsync(new { uid = _uid, type = RemoteDisconnect, opts = Opts(options), close }).ConfigureAwait(false);
        }
        await _local.DisconnectSocketsAsync(options, close).ConfigureAwait(false);
    }

    public async ValueTask<IReadOnlyList<SocketIORemoteSocket>> FetchSocketsAsync(BroadcastOptions options)
    {
        var local = await _local.FetchSocketsAsync(options).ConfigureAwait(false);
        if (options.Local || !_redis.IsConnected)
        {
            return local;
        }
        long servers;
        try
        {
            servers = await ServerCountAsync().ConfigureAwait(false);
        }
        catch (RedisException ex)
        {
            Log.RedisFailed(_logger, ex);
            return local;
        }
        if (servers <= 1)
        {
            return local;
        }
        var requestId = RandomId();
        var pending = new PendingFetch((int)servers - 1);
        _fetches[requestId] = pending;
        try
        {
            await PublishJsonAsync(new { uid = _uid, requestId, type = RemoteFetch, opts = Opts(options) }).ConfigureAwait(false);
            await pending.Done.Task.WaitAsync(_redis.Options.RequestsTimeout).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"Timeout reached while waiting for fetchSockets responses ({pending.Received} of {pending.Expected} nodes answered).");
        }
        finally
        {
            _fetches.TryRemove(requestId, out _);
        }
        var all = new List<SocketIORemoteSocket>(local);
        lock (pending)
        {
            all.AddRange(pending.Sockets);
        }
        return all;
    }

    private async Task<long> ServerCountAsync()
    {
        var result = await _redis.Multiplexer.GetDatabase().ExecuteAsync("PUBSUB", "NUMSUB", _requestChannel.ToString()).ConfigureAwait(false);
        var pairs = (RedisResult[])result!;
        return pairs.Length >= 2 ? (long)pairs[1] : 0;
    }

    private sealed class PendingFetch(int expected)
    {
        public int Expected { get; } = expected;
        public int Received { get; set; }
        public List<SocketIORemoteSocket> Sockets { get; } = [];
        public TaskCompletionSource Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private Task PublishJsonAsync(object request) => PublishAsync(_requestChannel, JsonSerializer.SerializeToUtf8Bytes(request));

    private async Task PublishAsync(RedisChannel channel, byte[] message)
    {
        if (!_redis.IsConnected)
        {
            // Redis is away: this node keeps serving its own clients; other nodes miss this one (logged once per outage).
            _redis.ReportSkipped();
            return;
        }
        try
        {
            await Publisher.PublishAsync(channel, message).ConfigureAwait(false);
        }
        catch (RedisException ex)
        {
            Log.RedisFailed(_logger, ex);
        }
    }

    /// <summary>
    /// Node's adapter tells the two encodings apart by the first byte: JSON starts with '{', anything else is
    /// msgpack. Returns the JSON document, or null after handing msgpack to <paramref name="onMsgPack"/>.
    /// </summary>
    private static JsonDocument? JsonOrMsgPack(RedisValue message, Action<byte[]> onMsgPack)
    {
        var bytes = (byte[])message!;
        if (bytes.Length == 0)
        {
            return null;
        }
        if (bytes[0] != (byte)'{')
        {
            onMsgPack(bytes);
            return null;
        }
        return JsonDocument.Parse(bytes);
    }

    private void OnRequest(RedisValue message)
    {
        try
        {
            // msgpack on the request channel: a broadcast expecting acks (type 7).
            using var document = JsonOrMsgPack(message, OnBroadcastWithAck);
            if (document is null)
            {
                return;
            }
            var request = document.RootElement;
            if (request.TryGetProperty("uid", out var uid) && uid.GetString() == _uid)
            {
                return;
            }
            var type = request.GetProperty("type").GetInt32();
            var options = new BroadcastOptions
            {
                Rooms = request.TryGetProperty("opts", out var opts) ? Strings(opts, "rooms") : [],
                Except = opts.ValueKind == JsonValueKind.Object ? Strings(opts, "except") : [],
                Local = true,
            };
            switch (type)
            {
                case RemoteJoin when opts.ValueKind == JsonValueKind.Object:
                    _ = _local.AddSocketsAsync(options, Strings(request, "rooms"));
                    break;
                case RemoteLeave when opts.ValueKind == JsonValueKind.Object:
                    _ = _local.DelSocketsAsync(options, Strings(request, "rooms"));
                    break;
                case RemoteDisconnect when opts.ValueKind == JsonValueKind.Object:
                    _ = _local.DisconnectSocketsAsync(options, request.TryGetProperty("close", out var close) && close.ValueKind == JsonValueKind.True);
                    break;
                case RemoteFetch:
                    _ = AnswerFetchAsync(request.GetProperty("requestId").GetString()!, options);
                    break;
                case Sockets:
                    _ = AnswerSocketsAsync(request.GetProperty("requestId").GetString()!, Strings(request, "rooms"));
                    break;
                case ServerSideEmit:
                    OnServerSideEmit(request);
                    break;
                case AllRooms:
                    _ = PublishAsync(_responseChannel, JsonSerializer.SerializeToUtf8Bytes(new { requestId = request.GetProperty("requestId").GetString(), rooms = _local.AllRooms() }));
                    break;
            }
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException or KeyNotFoundException
            or MessagePackSerializationException or EndOfStreamException)
        {
            // (The last two from a malformed msgpack broadcast-with-ack, which OnBroadcastWithAck decodes.)
            Log.MalformedMessage(_logger, _requestChannel.ToString(), ex.GetType().Name);
        }
    }

    private void OnServerSideEmit(JsonElement request)
    {
        if (!request.TryGetProperty("data", out var data) || data.ValueKind != JsonValueKind.Array || data.GetArrayLength() == 0
            || data[0].ValueKind != JsonValueKind.String)
        {
            return;
        }
        var eventName = data[0].GetString()!;
        var args = JsonDocument.Parse("[" + string.Join(",", data.EnumerateArray().Skip(1).Select(a => a.GetRawText())) + "]").RootElement;
        Action<object?>? ack = null;
        if (request.TryGetProperty("requestId", out var id) && id.GetString() is { } requestId)
        {
            ack = value => _ = PublishAsync(_responseChannel, JsonSerializer.SerializeToUtf8Bytes(
                new { type = ServerSideEmit, requestId, data = value }, _ns.Server.Options.SerializerOptions));
        }
        _ns.DispatchServerSideEmit(eventName, args, ack);
    }

    private async Task AnswerSocketsAsync(string requestId, HashSet<string> rooms)
    {
        var sockets = await _local.FetchSocketsAsync(new BroadcastOptions { Rooms = rooms, Local = true }).ConfigureAwait(false);
        await PublishAsync(_responseChannel, JsonSerializer.SerializeToUtf8Bytes(new { requestId, sockets = sockets.Select(s => s.Id).ToArray() })).ConfigureAwait(false);
    }

    /// <summary>
    /// Another node broadcasts expecting acks: deliver to local sockets with an ack id of ours, tell how many
    /// were reached (even 0: the sender waits for every node's count), and forward each client's first ack argument.
    /// </summary>
    private void OnBroadcastWithAck(byte[] bytes)
    {
        var reader = new MessagePackReader(bytes);
        var attachments = new List<byte[]>();
        var request = MsgPackJson.ReadElement(ref reader, attachments);
        if (!request.TryGetProperty("type", out var type) || !type.TryGetInt32(out var kind) || kind != BroadcastWithAck
            || !request.TryGetProperty("requestId", out var id) || id.GetString() is not { } requestId
            || !request.TryGetProperty("packet", out var packet))
        {
            return;
        }
        if (request.TryGetProperty("uid", out var uid) && uid.GetString() == _uid)
        {
            return;
        }
        var nsp = packet.TryGetProperty("nsp", out var n) && n.ValueKind == JsonValueKind.String ? n.GetString()! : "/";
        if (nsp != _ns.Name)
        {
            return;
        }
        packet.TryGetProperty("data", out var data);
        var ackId = _ns.NextAckId();
        var local = new SocketIOPacketContent(2, nsp, data, attachments, ackId).ToPacket();
        request.TryGetProperty("opts", out var opts);
        var options = new BroadcastOptions { Rooms = Strings(opts, "rooms"), Except = Strings(opts, "except"), Local = true };
        _ = _local.BroadcastWithAckAsync(local, options,
            count => _ = PublishAsync(_responseChannel, JsonSerializer.SerializeToUtf8Bytes(new { type = BroadcastClientCount, requestId, clientCount = count })),
            args => _ = PublishAsync(_responseChannel, EncodeAck(requestId, args)));
    }

    private static byte[] EncodeAck(string requestId, SocketIOArgs args)
    {
        var buffer = new ArrayBufferWriter<byte>(128);
        var writer = new MessagePackWriter(buffer);
        writer.WriteMapHeader(3);
        writer.Write("type");
        writer.Write(BroadcastAck);
        writer.Write("requestId");
        writer.Write(requestId);
        writer.Write("packet");
        if (args.Count > 0)
        {
            MsgPackJson.Write(ref writer, args[0], args.Buffers);
        }
        else
        {
            writer.WriteNil();
        }
        writer.Flush();
        return buffer.WrittenSpan.ToArray();
    }

    private async Task AnswerFetchAsync(string requestId, BroadcastOptions options)
    {
        var sockets = await _local.FetchSocketsAsync(options).ConfigureAwait(false);
        var response = new
        {
            requestId,
            sockets = sockets.Select(s => new
            {
                id = s.Id,
                handshake = s.Local is { } local ? Handshake(local.Handshake) : null,
                rooms = s.Rooms.ToArray(),
                data = s.Data,
            }).ToArray(),
        };
        await PublishAsync(_responseChannel, JsonSerializer.SerializeToUtf8Bytes(response, _ns.Server.Options.SerializerOptions)).ConfigureAwait(false);
    }

    /// <summary>The handshake as Node describes it to other nodes (no query string: it may carry a token).</summary>
    private static object Handshake(SocketIOHandshake handshake) => new
    {
        headers = handshake.Headers.Where(h => !h.Key.Equals("Authorization", StringComparison.OrdinalIgnoreCase) && !h.Key.Equals("Cookie", StringComparison.OrdinalIgnoreCase))
            .ToDictionary(h => h.Key.ToLowerInvariant(), h => h.Value.ToString()),
        time = handshake.Time.ToString("R", System.Globalization.CultureInfo.InvariantCulture),
        address = handshake.Address?.ToString(),
        xdomain = handshake.Headers.ContainsKey("Origin"),
        secure = handshake.Secure,
        issued = handshake.Time.ToUnixTimeMilliseconds(),
        url = handshake.Url,
        query = new Dictionary<string, string>(),
        auth = new Dictionary<string, string>(),
    };

    private void OnResponse(RedisValue message)
    {
        try
        {
            // msgpack on the response channel: a client's ack of our broadcast (type 9).
            using var document = JsonOrMsgPack(message, OnAckResponse);
            if (document is null)
            {
                return;
            }
            var response = document.RootElement;
            if (response.TryGetProperty("type", out var kind) && kind.TryGetInt32(out var responseType) && responseType == BroadcastClientCount)
            {
                if (response.TryGetProperty("requestId", out var rid) && rid.GetString() is { } countFor
                    && _ackRequests.TryGetValue(countFor, out var request)
                    && response.TryGetProperty("clientCount", out var count) && count.TryGetInt32(out var clients))
                {
                    request.ClientCount(clients);
                }
                return;
            }
            if (!response.TryGetProperty("requestId", out var id) || id.GetString() is not { } requestId
                || !_fetches.TryGetValue(requestId, out var pending)
                || !response.TryGetProperty("sockets", out var sockets) || sockets.ValueKind != JsonValueKind.Array)
            {
                return;
            }
            lock (pending)
            {
                foreach (var socket in sockets.EnumerateArray())
                {
                    var data = new Dictionary<string, object?>(StringComparer.Ordinal);
                    if (socket.TryGetProperty("data", out var d) && d.ValueKind == JsonValueKind.Object)
                    {
                        foreach (var property in d.EnumerateObject())
                        {
                            data[property.Name] = property.Value.Clone();
                        }
                    }
                    pending.Sockets.Add(new SocketIORemoteSocket(
                        _ns,
                        socket.GetProperty("id").GetString()!,
                        Strings(socket, "rooms"),
                        data,
                        socket.TryGetProperty("handshake", out var h) ? h.Clone() : default));
                }
                pending.Received++;
                if (pending.Received >= pending.Expected)
                {
                    pending.Done.TrySetResult();
                }
            }
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException or KeyNotFoundException
            or MessagePackSerializationException or EndOfStreamException)
        {
            // (The last two from a malformed msgpack ack, which OnAckResponse decodes.)
            Log.MalformedMessage(_logger, _responseChannel.ToString(), ex.GetType().Name);
        }
    }

    /// <summary>A client on another node acknowledged our broadcast (msgpack type 9, its first ack argument).</summary>
    private void OnAckResponse(byte[] bytes)
    {
        var reader = new MessagePackReader(bytes);
        var attachments = new List<byte[]>();
        var response = MsgPackJson.ReadElement(ref reader, attachments);
        if (!response.TryGetProperty("type", out var type) || !type.TryGetInt32(out var kind) || kind != BroadcastAck
            || !response.TryGetProperty("requestId", out var id) || id.GetString() is not { } requestId
            || !_ackRequests.TryGetValue(requestId, out var request))
        {
            return;
        }
        response.TryGetProperty("packet", out var packet);
        var array = JsonDocument.Parse("[" + (packet.ValueKind == JsonValueKind.Undefined ? "null" : packet.GetRawText()) + "]").RootElement;
        request.Ack(SocketIOArgs.Create(array, attachments, _ns.Server.Options.SerializerOptions));
    }

    private static partial class Log
    {
        [LoggerMessage(401, LogLevel.Debug, "Ignoring a malformed message on {Channel} ({Error}).")]
        public static partial void MalformedMessage(ILogger logger, string channel, string error);

        [LoggerMessage(402, LogLevel.Warning, "A Redis operation failed; this node keeps serving its own clients.")]
        public static partial void RedisFailed(ILogger logger, Exception exception);
    }
}
