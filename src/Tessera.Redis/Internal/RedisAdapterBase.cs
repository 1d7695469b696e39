using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text.Json;
using MessagePack;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;
using Tessera.SocketIO;
using Tessera.SocketIO.Internal.Parser;

namespace Tessera.Redis.Internal;

/// <summary>
/// What both Redis adapters (classic pub/sub and sharded pub/sub) do the same way: local membership through the
/// in-memory adapter, the request flows (fetchSockets, broadcast with acks, server-side emit with acks) and what a
/// node does with another node's request or response. The subclasses are the wire formats: they encode what this
/// class sends and decode what they receive into calls of its <c>On…</c> methods, with JSON (binary as placeholders
/// plus attachments) for every value, so every rule lives here once.
/// </summary>
internal abstract partial class RedisAdapterBase : ISocketIOAdapter
{
    private readonly ConcurrentDictionary<string, PendingRequest> _requests = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, (Action<int> ClientCount, Action<SocketIOArgs> Ack)> _ackRequests = new(StringComparer.Ordinal);

    protected RedisAdapterBase(SocketIONamespace ns, RedisConnection redis, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(ns);
        ArgumentNullException.ThrowIfNull(redis);
        Namespace = ns;
        Redis = redis;
        Logger = logger;
        Local = new InMemoryAdapter(ns);
    }

    protected SocketIONamespace Namespace { get; }

    protected InMemoryAdapter Local { get; }

    protected RedisConnection Redis { get; }

    protected ILogger Logger { get; }

    /// <summary>This node's id in the namespace's messages: 12 characters from [A-Za-z0-9].</summary>
    protected string Uid { get; } = RandomId();

    /// <summary>uid2-style id, like Node's adapter.</summary>
    protected static string RandomId()
    {
        const string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        Span<char> id = stackalloc char[12];
        for (var i = 0; i < id.Length; i++)
        {
            id[i] = alphabet[RandomNumberGenerator.GetInt32(alphabet.Length)];
        }
        return new string(id);
    }

    // ---- the wire format ----

    /// <summary>How many nodes (this one included) listen to the namespace's requests.</summary>
    protected abstract Task<long> ServerCountAsync();

    /// <summary>Publishes a broadcast (no acks) to the other nodes.</summary>
    protected abstract Task SendBroadcastAsync(SocketIOPacket packet, BroadcastOptions options);

    /// <summary>Publishes a broadcast whose receivers answer with their client count and their clients' acks.</summary>
    protected abstract Task SendBroadcastWithAckAsync(string requestId, SocketIOPacket packet, BroadcastOptions options, TimeSpan timeout);

    /// <summary>Publishes a request (join, leave, disconnect, fetch, server-side emit) to the other nodes.</summary>
    protected abstract Task SendRequestAsync(Request request);

    /// <summary>Answers a request of node <paramref name="requesterUid"/>.</summary>
    protected abstract Task SendResponseAsync(string requesterUid, Response response);

    protected enum RequestKind
    {
        Join,
        Leave,
        Disconnect,
        Fetch,
        ServerSideEmit,
    }

    /// <summary>A request to other nodes. <see cref="Event"/> is <c>["name", …args]</c> for a server-side emit.</summary>
    protected sealed record Request(RequestKind Kind, BroadcastOptions Options, string? RequestId = null, IReadOnlyCollection<string>? Rooms = null, bool Close = false, JsonElement Event = default);

    protected enum ResponseKind
    {
        /// <summary><see cref="Response.Value"/>: the sockets array of a fetch.</summary>
        Sockets,

        /// <summary><see cref="Response.ClientCount"/>: how many clients a broadcast with acks reached.</summary>
        ClientCount,

        /// <summary><see cref="Response.Value"/> with <see cref="Response.Buffers"/>: a client's first ack argument.</summary>
        Ack,

        /// <summary><see cref="Response.Value"/>: a handler's answer to a server-side emit.</summary>
        ServerSideAnswer,
    }

    protected sealed record Response(ResponseKind Kind, string RequestId, JsonElement Value = default, IReadOnlyList<byte[]>? Buffers = null, int ClientCount = 0);

    // ---- local membership: the in-memory adapter ----

    /// <summary>Whether <see cref="RoomsChangedAsync"/> must hear of membership changes (the sharded adapter's room channels).</summary>
    protected virtual bool TracksRooms => false;

    /// <summary>After local sockets joined or left <paramref name="rooms"/> (only when <see cref="TracksRooms"/>).</summary>
    protected virtual Task RoomsChangedAsync(IEnumerable<string> rooms) => Task.CompletedTask;

    /// <summary>The subscriptions to this namespace's channels, started by the adapter's constructor.</summary>
    protected Task Subscribed { get; init; } = Task.CompletedTask;

    /// <summary>
    /// A socket joins only once this node hears the namespace's channels, so that nothing another node sends it right
    /// after its CONNECT reply is missed. While Redis is away the socket joins at once: the node serves its own clients
    /// (StackExchange.Redis subscribes again when Redis is back).
    /// </summary>
    private async ValueTask WhenSubscribedAsync()
    {
        var subscribed = Subscribed;
        if (subscribed.IsCompletedSuccessfully)
        {
            return;
        }
        if (subscribed.IsCompleted || !Redis.IsConnected)
        {
            if (subscribed.IsFaulted)
            {
                Log.RedisFailed(Logger, subscribed.Exception!.GetBaseException());
            }
            return;
        }
        try
        {
            await subscribed.ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            Log.RedisFailed(Logger, ex);
        }
    }

    public async ValueTask AddAllAsync(string socketId, IReadOnlyCollection<string> rooms)
    {
        await WhenSubscribedAsync().ConfigureAwait(false);
        await Local.AddAllAsync(socketId, rooms).ConfigureAwait(false);
        if (TracksRooms)
        {
            await RoomsChangedAsync(rooms).ConfigureAwait(false);
        }
    }

    public async ValueTask DelAsync(string socketId, string room)
    {
        await Local.DelAsync(socketId, room).ConfigureAwait(false);
        if (TracksRooms)
        {
            await RoomsChangedAsync([room]).ConfigureAwait(false);
        }
    }

    public async ValueTask DelAllAsync(string socketId)
    {
        var rooms = TracksRooms ? Local.SocketRooms(socketId) : null;
        await Local.DelAllAsync(socketId).ConfigureAwait(false);
        if (rooms is not null)
        {
            await RoomsChangedAsync(rooms).ConfigureAwait(false);
        }
    }

    /// <summary>Local sockets selected by <paramref name="options"/> join <paramref name="rooms"/> (here or asked by another node).</summary>
    private async Task JoinLocalAsync(BroadcastOptions options, IReadOnlyCollection<string> rooms)
    {
        await Local.AddSocketsAsync(options, rooms).ConfigureAwait(false);
        if (TracksRooms)
        {
            await RoomsChangedAsync(rooms).ConfigureAwait(false);
        }
    }

    private async Task LeaveLocalAsync(BroadcastOptions options, IReadOnlyCollection<string> rooms)
    {
        await Local.DelSocketsAsync(options, rooms).ConfigureAwait(false);
        if (TracksRooms)
        {
            await RoomsChangedAsync(rooms).ConfigureAwait(false);
        }
    }

    public IReadOnlySet<string> SocketRooms(string socketId) => Local.SocketRooms(socketId);

    public bool ReachesOtherNodes => true;

    // ---- connection state recovery across nodes: lost sessions under a key with a TTL ----

    public bool SharesSessions => true;

    /// <summary><c>&lt;prefix&gt;:session:&lt;nsp&gt;:&lt;pid&gt;</c>; the pid is the server's own random id, never a client's choice of key.</summary>
    private RedisKey SessionKey(string pid) => Redis.Options.KeyPrefix + ":session:" + Namespace.Name + ":" + pid;

    public async ValueTask PersistSessionAsync(string pid, ReadOnlyMemory<byte> session, TimeSpan lifetime)
    {
        try
        {
            await Redis.Multiplexer.GetDatabase().StringSetAsync(SessionKey(pid), session, lifetime).ConfigureAwait(false);
        }
        catch (RedisException ex)
        {
            // Redis away: the session is lost, and the client reconnects as a new socket.
            Log.RedisFailed(Logger, ex);
        }
    }

    public async ValueTask<byte[]?> TakeSessionAsync(string pid)
    {
        if (pid.Length is 0 or > 64)
        {
            return null;
        }
        try
        {
            // GETDEL: one reconnect gets it, whichever node it reaches.
            var value = await Redis.Multiplexer.GetDatabase().StringGetDeleteAsync(SessionKey(pid)).ConfigureAwait(false);
            return value.IsNull ? null : (byte[]?)value;
        }
        catch (RedisException ex)
        {
            Log.RedisFailed(Logger, ex);
            return null;
        }
    }

    public TimeSpan DefaultTimeout => Redis.Options.RequestsTimeout;

    // ---- sending ----

    public async ValueTask BroadcastAsync(SocketIOPacket packet, BroadcastOptions options)
    {
        if (!options.Local)
        {
            await GuardAsync(SendBroadcastAsync(packet, options)).ConfigureAwait(false);
        }
        await Local.BroadcastAsync(packet, options).ConfigureAwait(false);
    }

    /// <summary>
    /// Broadcast expecting acks on every node: each other node answers with its client count and forwards each
    /// client's first ack argument, as Node's adapters do.
    /// </summary>
    public async ValueTask<int> BroadcastWithAckAsync(SocketIOPacket packet, BroadcastOptions options, Action<int> clientCount, Action<SocketIOArgs> ack)
    {
        var reports = 0;
        if (!options.Local && await OtherServersAsync().ConfigureAwait(false) is > 0 and var others)
        {
            var requestId = RandomId();
            _ackRequests[requestId] = (clientCount, ack);
            // Responses stop mattering after the sender's timeout: forget the request then.
            var timeout = options.AckTimeout ?? Namespace.Server.Options.AckTimeout;
            _ = Task.Delay(timeout).ContinueWith(_ => _ackRequests.TryRemove(requestId, out var _), TaskScheduler.Default);
            await GuardAsync(SendBroadcastWithAckAsync(requestId, packet, options, timeout)).ConfigureAwait(false);
            reports += others;
        }
        return reports + await Local.BroadcastWithAckAsync(packet, options, clientCount, ack).ConfigureAwait(false);
    }

    public async ValueTask ServerSideEmitAsync(string eventName, SocketIOValue[] args) =>
        await GuardAsync(SendRequestAsync(new Request(RequestKind.ServerSideEmit, new BroadcastOptions(), Event: EventArray(eventName, args.Select(a => a.Element))))).ConfigureAwait(false);

    /// <summary>
    /// Node's <c>serverSideEmitWithAck</c>: one answer from each other node, or after <paramref name="wait"/> (null: RequestsTimeout) a
    /// <see cref="SocketIOAckTimeoutException"/> carrying the answers that came.
    /// </summary>
    public async Task<IReadOnlyList<SocketIOArgs>> ServerSideEmitWithAckAsync(string eventName, SocketIOValue[] args, TimeSpan? wait)
    {
        var timeout = wait ?? DefaultTimeout;
        var others = await OtherServersAsync().ConfigureAwait(false);
        if (others <= 0)
        {
            return [];
        }
        var answers = await RequestAsync(others, timeout, value => OneArgument(value, []),
            requestId => SendRequestAsync(new Request(RequestKind.ServerSideEmit, new BroadcastOptions(), requestId, Event: EventArray(eventName, args.Select(a => a.Element))))).ConfigureAwait(false);
        if (answers.Count < others)
        {
            throw new SocketIOAckTimeoutException(answers, others);
        }
        return answers;
    }

    private static JsonElement EventArray(string eventName, IEnumerable<JsonElement> args) => Tessera.SocketIO.Internal.Json.Element((eventName, args), static (w, state) =>
    {
        w.WriteStartArray();
        w.WriteStringValue(state.eventName);
        foreach (var arg in state.args)
        {
            arg.WriteTo(w);
        }
        w.WriteEndArray();
    });

    public async ValueTask AddSocketsAsync(BroadcastOptions options, IReadOnlyCollection<string> rooms)
    {
        if (!options.Local)
        {
            await GuardAsync(SendRequestAsync(new Request(RequestKind.Join, options, Rooms: rooms))).ConfigureAwait(false);
        }
        await JoinLocalAsync(options, rooms).ConfigureAwait(false);
    }

    public async ValueTask DelSocketsAsync(BroadcastOptions options, IReadOnlyCollection<string> rooms)
    {
        if (!options.Local)
        {
            await GuardAsync(SendRequestAsync(new Request(RequestKind.Leave, options, Rooms: rooms))).ConfigureAwait(false);
        }
        await LeaveLocalAsync(options, rooms).ConfigureAwait(false);
    }

    public async ValueTask DisconnectSocketsAsync(BroadcastOptions options, bool close)
    {
        if (!options.Local)
        {
            await GuardAsync(SendRequestAsync(new Request(RequestKind.Disconnect, options, Close: close))).ConfigureAwait(false);
        }
        await Local.DisconnectSocketsAsync(options, close).ConfigureAwait(false);
    }

    public async ValueTask<IReadOnlyList<SocketIORemoteSocket>> FetchSocketsAsync(BroadcastOptions options)
    {
        var local = await Local.FetchSocketsAsync(options).ConfigureAwait(false);
        var others = options.Local ? 0 : await OtherServersAsync().ConfigureAwait(false);
        if (others <= 0)
        {
            return local;
        }
        var answers = await RequestAsync(others, Redis.Options.RequestsTimeout, sockets => sockets.EnumerateArray().Select(RemoteSocket).ToArray(),
            requestId => SendRequestAsync(new Request(RequestKind.Fetch, options, requestId))).ConfigureAwait(false);
        if (answers.Count < others)
        {
            throw new TimeoutException($"Timeout reached while waiting for fetchSockets responses ({answers.Count} of {others} nodes answered).");
        }
        return [.. local, .. answers.SelectMany(a => a)];
    }

    private SocketIORemoteSocket RemoteSocket(JsonElement socket)
    {
        var data = new Dictionary<string, object?>(StringComparer.Ordinal);
        if (socket.TryGetProperty("data", out var d) && d.ValueKind == JsonValueKind.Object)
        {
            foreach (var property in d.EnumerateObject())
            {
                data[property.Name] = property.Value.Clone();
            }
        }
        return new SocketIORemoteSocket(
            Namespace,
            socket.GetProperty("id").GetString() ?? throw new FormatException("a socket without id"),
            Strings(socket, "rooms"),
            data,
            socket.TryGetProperty("handshake", out var h) ? h.Clone() : default);
    }

    /// <summary>Other nodes in the namespace; 0 while Redis is away (this node then answers alone).</summary>
    private async Task<int> OtherServersAsync()
    {
        if (!Redis.IsConnected)
        {
            return 0;
        }
        try
        {
            return (int)Math.Max(0, await ServerCountAsync().ConfigureAwait(false) - 1);
        }
        catch (RedisException ex)
        {
            Log.RedisFailed(Logger, ex);
            return 0;
        }
    }

    /// <summary>
    /// Sends a request expecting one answer from each of <paramref name="expected"/> nodes, each turned into a
    /// <typeparamref name="T"/> by <paramref name="read"/> as it comes (a malformed answer is ignored, not counted);
    /// returns what came within <paramref name="timeout"/> (fewer than expected when it ran out).
    /// </summary>
    private async Task<IReadOnlyList<T>> RequestAsync<T>(int expected, TimeSpan timeout, Func<JsonElement, T> read, Func<string, Task> send)
    {
        var requestId = RandomId();
        var pending = new PendingRequest(expected, value => read(value)!);
        _requests[requestId] = pending;
        try
        {
            await GuardAsync(send(requestId)).ConfigureAwait(false);
            try
            {
                await pending.Done.Task.WaitAsync(timeout).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                // What came is given to the caller, as Node's error + partial responses.
            }
        }
        finally
        {
            _requests.TryRemove(requestId, out _);
        }
        return pending.Snapshot<T>();
    }

    private sealed class PendingRequest(int expected, Func<JsonElement, object> read)
    {
        private readonly List<object> _items = [];

        public TaskCompletionSource Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public void Add(JsonElement value)
        {
            var item = read(value);
            lock (_items)
            {
                if (_items.Count < expected)
                {
                    _items.Add(item);
                }
                if (_items.Count >= expected)
                {
                    Done.TrySetResult();
                }
            }
        }

        public T[] Snapshot<T>()
        {
            lock (_items)
            {
                return [.. _items.Cast<T>()];
            }
        }
    }

    /// <summary>Publishes unless Redis is away (then this node keeps serving its own clients; logged once per outage).</summary>
    protected async Task PublishAsync(RedisChannel channel, byte[] message)
    {
        if (!Redis.IsConnected)
        {
            Redis.ReportSkipped();
            return;
        }
        await Redis.Multiplexer.GetSubscriber().PublishAsync(channel, message).ConfigureAwait(false);
    }

    /// <summary>Awaits a publish; a Redis failure is logged (this node keeps serving its own clients).</summary>
    protected async Task GuardAsync(Task publish)
    {
        try
        {
            await publish.ConfigureAwait(false);
        }
        catch (RedisException ex)
        {
            Log.RedisFailed(Logger, ex);
        }
    }

    /// <summary>Runs a decoder on a message from Redis; a malformed message is logged at Debug and ignored.</summary>
    protected void Decode(RedisChannel channel, Action decode) => _ = DecodeAsync(channel, () =>
    {
        decode();
        return Task.CompletedTask;
    });

    /// <summary>
    /// Runs an asynchronous decoder (a subscription queue awaits it before the next message); a malformed message
    /// is logged at Debug and ignored.
    /// </summary>
    protected async Task DecodeAsync(RedisChannel channel, Func<Task> decode)
    {
        try
        {
            await decode().ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException or KeyNotFoundException or ArgumentException
            or FormatException or MessagePackSerializationException or EndOfStreamException)
        {
            Log.MalformedMessage(Logger, channel.ToString(), ex.GetType().Name);
        }
    }

    // ---- what other nodes send ----

    /// <summary>
    /// Node's adapter tells the two encodings apart by the first byte: JSON starts with '{', anything else is
    /// msgpack (binary as placeholders plus <paramref name="attachments"/>).
    /// </summary>
    protected static JsonElement? Parse(RedisValue message, List<byte[]> attachments)
    {
        var bytes = (byte[])message!;
        if (bytes.Length == 0)
        {
            return null;
        }
        if (bytes[0] == (byte)'{')
        {
            using var document = JsonDocument.Parse(bytes);
            return document.RootElement.Clone();
        }
        var reader = new MessagePackReader(bytes);
        return MsgPackJson.ReadElement(ref reader, attachments);
    }

    /// <summary>A message's <c>requestId</c>; malformed without one.</summary>
    protected static string RequestId(JsonElement message) => message.GetProperty("requestId").GetString() ?? throw new FormatException("requestId is null");

    /// <summary>A message's numeric <c>type</c>, -1 when it has none.</summary>
    protected static int Type(JsonElement message) => message.TryGetProperty("type", out var type) && type.TryGetInt32(out var value) ? value : -1;

    protected static HashSet<string> Strings(JsonElement element, string name)
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

    /// <summary>Another node's <c>{rooms, except, flags}</c>, applied to this node's sockets only.</summary>
    private static BroadcastOptions LocalOptions(JsonElement opts) => new()
    {
        Rooms = Strings(opts, "rooms"),
        Except = Strings(opts, "except"),
        Volatile = opts.ValueKind == JsonValueKind.Object && opts.TryGetProperty("flags", out var flags) && flags.ValueKind == JsonValueKind.Object
            && flags.TryGetProperty("volatile", out var v) && v.ValueKind == JsonValueKind.True,
        Local = true,
    };

    /// <summary>The namespace a packet <c>{type, data, nsp, id}</c> names ("/" when it names none).</summary>
    protected static string PacketNamespace(JsonElement packet) =>
        packet.ValueKind == JsonValueKind.Object && packet.TryGetProperty("nsp", out var n) && n.ValueKind == JsonValueKind.String ? n.GetString()! : "/";

    /// <summary>Another node's broadcast: to this node's sockets.</summary>
    protected void OnBroadcast(JsonElement packet, JsonElement opts, List<byte[]> attachments)
    {
        var type = packet.TryGetProperty("type", out var t) && t.TryGetInt32(out var value) ? value : 2;
        var id = packet.TryGetProperty("id", out var i) && i.TryGetInt64(out var ackId) ? ackId : -1;
        packet.TryGetProperty("data", out var data);
        var local = new SocketIOPacketContent(type, Namespace.Name, data, attachments, id).ToPacket();
        var options = LocalOptions(opts);
        // Kept for connection state recovery, so a client that lost its connection to another node can recover here.
        Namespace.RecordRemoteEvent(local, options);
        _ = Local.BroadcastAsync(local, options);
    }

    /// <summary>
    /// Another node broadcasts expecting acks: deliver to local sockets with an ack id of ours, tell how many were
    /// reached (even 0: the sender waits for every node's count), and forward each client's first ack argument.
    /// </summary>
    protected void OnBroadcastWithAck(string requesterUid, string requestId, JsonElement packet, JsonElement opts, List<byte[]> attachments)
    {
        packet.TryGetProperty("data", out var data);
        var local = new SocketIOPacketContent(2, Namespace.Name, data, attachments, Namespace.NextAckId()).ToPacket();
        _ = Local.BroadcastWithAckAsync(local, LocalOptions(opts),
            count => _ = GuardAsync(SendResponseAsync(requesterUid, new Response(ResponseKind.ClientCount, requestId, ClientCount: count))),
            args => _ = GuardAsync(SendResponseAsync(requesterUid, new Response(ResponseKind.Ack, requestId,
                args.Count > 0 ? args[0] : default, args.Buffers))));
    }

    /// <summary>Another node's socketsJoin: <paramref name="request"/> holds the <c>rooms</c>.</summary>
    protected Task OnJoinAsync(JsonElement opts, JsonElement request) => JoinLocalAsync(LocalOptions(opts), Strings(request, "rooms"));

    /// <summary>Another node's socketsLeave: <paramref name="request"/> holds the <c>rooms</c>.</summary>
    protected Task OnLeaveAsync(JsonElement opts, JsonElement request) => LeaveLocalAsync(LocalOptions(opts), Strings(request, "rooms"));

    protected void OnDisconnect(JsonElement opts, bool close) => _ = Local.DisconnectSocketsAsync(LocalOptions(opts), close);

    /// <summary>Answers another node's fetchSockets with this node's sockets as Node describes them.</summary>
    protected async Task OnFetchAsync(string requesterUid, string requestId, JsonElement opts)
    {
        var sockets = await Local.FetchSocketsAsync(LocalOptions(opts)).ConfigureAwait(false);
        var value = Tessera.SocketIO.Internal.Json.Element((sockets, Namespace.Server.Options.SerializerOptions), static (w, state) =>
        {
            w.WriteStartArray();
            foreach (var s in state.sockets)
            {
                w.WriteStartObject();
                w.WriteString("id", s.Id);
                w.WritePropertyName("handshake");
                if (s.Local is { } local)
                {
                    WriteHandshake(w, local.Handshake);
                }
                else
                {
                    w.WriteNullValue();
                }
                JsonMessage.Strings(w, "rooms", s.Rooms);
                // The app's own values, through the app's serializer options (its context under Native AOT).
                w.WritePropertyName("data");
                Tessera.SocketIO.Internal.Json.Serialize(w, s.Data, state.SerializerOptions);
                w.WriteEndObject();
            }
            w.WriteEndArray();
        });
        await GuardAsync(SendResponseAsync(requesterUid, new Response(ResponseKind.Sockets, requestId, value))).ConfigureAwait(false);
    }

    /// <summary>The handshake as Node describes it to other nodes (no query string: it may carry a token).</summary>
    private static void WriteHandshake(Utf8JsonWriter w, SocketIOHandshake handshake)
    {
        w.WriteStartObject();
        w.WriteStartObject("headers");
        // One member per header name (lower-cased as Node's), the last value when two names differ only in case.
        var headers = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (name, value) in handshake.Headers)
        {
            if (!name.Equals("Authorization", StringComparison.OrdinalIgnoreCase) && !name.Equals("Cookie", StringComparison.OrdinalIgnoreCase))
            {
                headers[name.ToLowerInvariant()] = value.ToString();
            }
        }
        foreach (var (name, value) in headers)
        {
            w.WriteString(name, value);
        }
        w.WriteEndObject();
        w.WriteString("time", handshake.Time.ToString("R", System.Globalization.CultureInfo.InvariantCulture));
        w.WriteString("address", handshake.Address?.ToString());
        w.WriteBoolean("xdomain", handshake.Headers.ContainsKey("Origin"));
        w.WriteBoolean("secure", handshake.Secure);
        w.WriteNumber("issued", handshake.Time.ToUnixTimeMilliseconds());
        w.WriteString("url", handshake.Url);
        w.WriteStartObject("query");
        w.WriteEndObject();
        w.WriteStartObject("auth");
        w.WriteEndObject();
        w.WriteEndObject();
    }

    /// <summary>
    /// Another node's server-side event <c>["name", …args]</c>: to this namespace's handler, which may answer once
    /// when the sender waits (a request id).
    /// </summary>
    protected void OnServerSideEmit(string requesterUid, JsonElement data, string? requestId)
    {
        if (data.ValueKind != JsonValueKind.Array || data.GetArrayLength() == 0 || data[0].ValueKind != JsonValueKind.String)
        {
            return;
        }
        var eventName = data[0].GetString()!;
        var args = Tessera.SocketIO.Internal.Json.Element(data, static (w, data) =>
        {
            w.WriteStartArray();
            foreach (var arg in data.EnumerateArray().Skip(1))
            {
                arg.WriteTo(w);
            }
            w.WriteEndArray();
        });
        Action<object?>? ack = null;
        if (requestId is not null)
        {
            ack = value => _ = GuardAsync(SendResponseAsync(requesterUid, new Response(ResponseKind.ServerSideAnswer, requestId,
                Tessera.SocketIO.Internal.Json.SerializeToElement(value, Namespace.Server.Options.SerializerOptions))));
        }
        Namespace.DispatchServerSideEmit(eventName, args, ack);
    }

    /// <summary>One node's answer to our fetchSockets or server-side emit (ignored once the request is over).</summary>
    protected void OnAnswer(string requestId, JsonElement value)
    {
        if (_requests.TryGetValue(requestId, out var pending))
        {
            pending.Add(value);
        }
    }

    protected void OnClientCount(string requestId, int count)
    {
        if (_ackRequests.TryGetValue(requestId, out var request))
        {
            request.ClientCount(count);
        }
    }

    /// <summary>A client on another node acknowledged our broadcast (its first ack argument).</summary>
    protected void OnAck(string requestId, JsonElement value, List<byte[]> attachments)
    {
        if (_ackRequests.TryGetValue(requestId, out var request))
        {
            request.Ack(OneArgument(value, attachments));
        }
    }

    /// <summary>An answer as the arguments of an ack: one value (null when the other node sent none).</summary>
    private SocketIOArgs OneArgument(JsonElement value, IReadOnlyList<byte[]> attachments) => SocketIOArgs.Create(
        Tessera.SocketIO.Internal.Json.Element(value, static (w, value) =>
        {
            w.WriteStartArray();
            if (value.ValueKind == JsonValueKind.Undefined)
            {
                w.WriteNullValue();
            }
            else
            {
                value.WriteTo(w);
            }
            w.WriteEndArray();
        }),
        attachments, Namespace.Server.Options.SerializerOptions);

    private static partial class Log
    {
        [LoggerMessage(401, LogLevel.Debug, "Ignoring a malformed message on {Channel} ({Error}).")]
        public static partial void MalformedMessage(ILogger logger, string channel, string error);

        [LoggerMessage(402, LogLevel.Warning, "A Redis operation failed; this node keeps serving its own clients.")]
        public static partial void RedisFailed(ILogger logger, Exception exception);
    }
}
