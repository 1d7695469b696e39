using System.Buffers.Text;
using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.AspNetCore.Http.Features;
using Tessera.SocketIO.Internal;
using Tessera.SocketIO.Internal.Parser;

namespace Tessera.SocketIO;

/// <summary>A namespace (Node's <c>io.of(name)</c>): its middleware, connection handlers, sockets and adapter.</summary>
public sealed class SocketIONamespace
{
    private readonly ConcurrentDictionary<string, SocketIOSocket> _sockets = new(StringComparer.Ordinal);
    private readonly List<Func<SocketIOSocket, Func<ValueTask>, ValueTask>> _middlewares = [];
    private readonly List<Func<SocketIOSocket, ValueTask>> _connectionHandlers = [];
    private readonly List<SocketIONamespace>? _children;
    private readonly Func<string, JsonElement, bool>? _predicate;
    private long _ackIds;
    private ISocketIOAdapter? _adapter;

    internal SocketIONamespace(SocketIOServer server, string name, Func<string, JsonElement, bool>? predicate = null)
    {
        Server = server;
        Name = name;
        _predicate = predicate;
        if (predicate is not null)
        {
            _children = [];
        }
    }

    /// <summary>The namespace's name, with its leading <c>/</c> (<c>/</c> for the main namespace).</summary>
    public string Name { get; }

    /// <summary>The server this namespace belongs to.</summary>
    public SocketIOServer Server { get; }

    /// <summary>Typed state that other layers attach to the namespace (authorization rules, for one).</summary>
    public IFeatureCollection Features { get; } = new FeatureCollection();

    /// <summary>Rooms and broadcasts of this namespace; in-memory unless the server's adapter factory says otherwise.</summary>
    public ISocketIOAdapter Adapter => _adapter ??= Server.CreateAdapter(this);

    /// <summary>Connected sockets of this namespace on this node, by id.</summary>
    public IReadOnlyDictionary<string, SocketIOSocket> Sockets => _sockets;

    /// <summary>For a dynamic (parent) namespace: the namespaces created from it so far.</summary>
    public IReadOnlyList<SocketIONamespace> Children
    {
        get
        {
            if (_children is null)
            {
                return [];
            }
            lock (_children)
            {
                return [.. _children];
            }
        }
    }

    /// <summary>
    /// Connection middleware, run in order before a socket joins. Throw <see cref="SocketIOConnectException"/> to
    /// refuse with a message and data the client receives in <c>connect_error</c>; not calling <c>next</c> refuses too.
    /// </summary>
    public SocketIONamespace Use(Func<SocketIOSocket, Func<ValueTask>, ValueTask> middleware)
    {
        ArgumentNullException.ThrowIfNull(middleware);
        lock (_middlewares)
        {
            _middlewares.Add(middleware);
        }
        return this;
    }

    /// <summary>
    /// Per-packet middleware for every socket of the namespace, run before each socket's own
    /// (<see cref="SocketIOSocket.Use"/>): the same contract, registered once instead of once per socket.
    /// </summary>
    public SocketIONamespace UseEventMiddleware(Func<SocketIOEvent, Func<ValueTask>, ValueTask> middleware)
    {
        ArgumentNullException.ThrowIfNull(middleware);
        lock (_middlewares)
        {
            _eventMiddlewares = [.. _eventMiddlewares, middleware];
        }
        return this;
    }

    private Func<SocketIOEvent, Func<ValueTask>, ValueTask>[] _eventMiddlewares = [];

    internal Func<SocketIOEvent, Func<ValueTask>, ValueTask>[] EventMiddlewares => System.Threading.Volatile.Read(ref _eventMiddlewares);

    /// <summary>Runs for each socket that joined, after the client got its CONNECT reply.</summary>
    public SocketIONamespace OnConnection(Func<SocketIOSocket, ValueTask> handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        lock (_connectionHandlers)
        {
            _connectionHandlers.Add(handler);
        }
        return this;
    }

    /// <summary>Runs a synchronous <paramref name="handler"/> for each socket that joined, after the client got its CONNECT reply (Node's <c>nsp.on("connection")</c>).</summary>
    /// <exception cref="ArgumentNullException"><paramref name="handler"/> is null.</exception>
    public SocketIONamespace OnConnection(Action<SocketIOSocket> handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        return OnConnection(socket =>
        {
            handler(socket);
            return ValueTask.CompletedTask;
        });
    }

    // ---- server-side events between nodes ----

    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, Func<SocketIOServerSideEvent, ValueTask>> _serverSide = new(StringComparer.Ordinal);

    /// <summary>Handles events other nodes send with <see cref="ServerSideEmitAsync"/> (or Node's serverSideEmit).</summary>
    public SocketIONamespace OnServerSideEmit(string eventName, Func<SocketIOServerSideEvent, ValueTask> handler)
    {
        ArgumentException.ThrowIfNullOrEmpty(eventName);
        _serverSide[eventName] = handler ?? throw new ArgumentNullException(nameof(handler));
        return this;
    }

    /// <summary>Sends an event to every other node's server-side handlers (JSON arguments; nothing happens on a single node).</summary>
    /// <exception cref="ArgumentException">An argument holds binary (byte[] or ReadOnlyMemory of byte), which cannot cross nodes.</exception>
    public ValueTask ServerSideEmitAsync(string eventName, params object?[] args) =>
        Adapter.ServerSideEmitAsync(eventName, ServerSideArgs(eventName, args, nameof(ServerSideEmitAsync)));

    /// <summary>
    /// Sends an event to every other node's server-side handlers and gathers one answer (<see cref="SocketIOServerSideEvent.Ack"/>)
    /// from each, Tessera and Node nodes alike (Node's <c>serverSideEmitWithAck</c>), waiting at most the cluster
    /// adapter's default (Redis: <c>RequestsTimeout</c>, 5 s). Alone, nobody answers: the list is empty.
    /// </summary>
    /// <returns>One <see cref="SocketIOArgs"/> per other node, holding the value it answered.</returns>
    /// <exception cref="SocketIOAckTimeoutException">Some nodes did not answer in time; <see cref="SocketIOAckTimeoutException.Responses"/> holds the answers that came.</exception>
    /// <exception cref="ArgumentException">An argument holds binary, which cannot cross nodes.</exception>
    public Task<IReadOnlyList<SocketIOArgs>> ServerSideEmitWithAckAsync(string eventName, params object?[] args) =>
        Adapter.ServerSideEmitWithAckAsync(eventName, ServerSideArgs(eventName, args, nameof(ServerSideEmitWithAckAsync)), null);

    /// <summary>
    /// <see cref="ServerSideEmitWithAckAsync(string, object?[])"/> waiting at most <paramref name="timeout"/> (Node's
    /// <c>io.timeout(ms).serverSideEmit(…, callback)</c>).
    /// </summary>
    /// <exception cref="SocketIOAckTimeoutException">Some nodes did not answer in time; <see cref="SocketIOAckTimeoutException.Responses"/> holds the answers that came.</exception>
    /// <exception cref="ArgumentException">An argument holds binary, which cannot cross nodes.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="timeout"/> is not positive.</exception>
    public Task<IReadOnlyList<SocketIOArgs>> ServerSideEmitWithAckAsync(TimeSpan timeout, string eventName, params object?[] args)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(timeout, TimeSpan.Zero);
        return Adapter.ServerSideEmitWithAckAsync(eventName, ServerSideArgs(eventName, args, nameof(ServerSideEmitWithAckAsync)), timeout);
    }

    /// <summary>A server-side event's arguments as JSON; binary is refused (Node's cluster adapters carry JSON only).</summary>
    private SocketIOValue[] ServerSideArgs(string eventName, object?[] args, string method)
    {
        ArgumentException.ThrowIfNullOrEmpty(eventName);
        ArgumentNullException.ThrowIfNull(args);
        var options = Server.Options.SerializerOptions;
        // The attachment converters collect binary on this thread: gather it to refuse it (and leave nothing behind).
        Internal.Parser.BinaryContext.BeginOutgoing();
        var values = args.Select(a => new SocketIOValue(Internal.Json.SerializeToElement(a, options), [], options)).ToArray();
        if (Internal.Parser.BinaryContext.EndOutgoing() is not null)
        {
            throw new ArgumentException(method + " carries JSON only (as Node's cluster adapters): binary arguments cannot reach other nodes.", nameof(args));
        }
        return values;
    }

    /// <summary>For cluster adapters: runs the handler of a server-side event received from another node.</summary>
    public void DispatchServerSideEmit(string eventName, JsonElement args, Action<object?>? ack)
    {
        if (!_serverSide.TryGetValue(eventName, out var handler))
        {
            return;
        }
        var e = new SocketIOServerSideEvent(eventName, new SocketIOArgs(args, 0, null, Server.Options.SerializerOptions), ack);
        _ = RunAsync();

        async Task RunAsync()
        {
            try
            {
                await handler(e).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                SocketIOServer.Log.HandlerFailed(Server.Logger, eventName, "server-side", ex);
            }
        }
    }

    // ---- broadcasting (see BroadcastOperator) ----

    /// <summary>Starts a broadcast to the sockets of this namespace in <paramref name="room"/> (Node's <c>nsp.to</c>).</summary>
    public BroadcastOperator To(string room) => new BroadcastOperator(this).To(room);

    /// <summary>Starts a broadcast to the sockets of this namespace in any of <paramref name="rooms"/>, each socket reached once.</summary>
    public BroadcastOperator To(IEnumerable<string> rooms) => new BroadcastOperator(this).To(rooms);

    /// <summary>The same as <see cref="To(string)"/> (Node's <c>nsp.in</c>).</summary>
    public BroadcastOperator In(string room) => To(room);

    /// <summary>Starts a broadcast to the sockets of this namespace that are not in <paramref name="room"/> (Node's <c>nsp.except</c>).</summary>
    public BroadcastOperator Except(string room) => new BroadcastOperator(this).Except(room);

    /// <summary>Starts a broadcast that clients unable to take the packet right away miss (Node's <c>nsp.volatile</c>).</summary>
    public BroadcastOperator Volatile => new BroadcastOperator(this).Volatile;

    /// <summary>Starts a broadcast that reaches this node's sockets only, even with a cluster adapter (Node's <c>nsp.local</c>).</summary>
    public BroadcastOperator Local => new BroadcastOperator(this).Local;

    /// <summary>
    /// Starts a broadcast whose <see cref="BroadcastOperator.EmitWithAckAsync"/> waits at most <paramref name="timeout"/>
    /// (Node's <c>nsp.timeout</c>) instead of <see cref="SocketIOOptions.AckTimeout"/>.
    /// </summary>
    public BroadcastOperator Timeout(TimeSpan timeout) => new BroadcastOperator(this).Timeout(timeout);

    /// <summary>Sends to every socket of the namespace.</summary>
    public void Emit(string eventName, params object?[] args) => new BroadcastOperator(this).Emit(eventName, args);

    /// <summary>
    /// Sends an event to every socket of the namespace and collects one acknowledgement from each (Node's
    /// <c>nsp.emitWithAck</c>), waiting at most <see cref="SocketIOOptions.AckTimeout"/>; use <see cref="Timeout"/> for another limit.
    /// </summary>
    /// <exception cref="SocketIOAckTimeoutException">Some sockets did not acknowledge in time; it carries the responses received.</exception>
    public Task<IReadOnlyList<SocketIOArgs>> EmitWithAckAsync(string eventName, params object?[] args) =>
        new BroadcastOperator(this).EmitWithAckAsync(eventName, args);

    /// <summary>The sockets of this namespace, on every node when a cluster adapter is installed (Node's <c>nsp.fetchSockets</c>).</summary>
    public ValueTask<IReadOnlyList<SocketIORemoteSocket>> FetchSocketsAsync() => new BroadcastOperator(this).FetchSocketsAsync();

    /// <summary>Makes every socket of this namespace join <paramref name="rooms"/> (Node's <c>nsp.socketsJoin</c>).</summary>
    public ValueTask SocketsJoinAsync(params string[] rooms) => new BroadcastOperator(this).SocketsJoinAsync(rooms);

    /// <summary>Makes every socket of this namespace leave <paramref name="rooms"/> (Node's <c>nsp.socketsLeave</c>).</summary>
    public ValueTask SocketsLeaveAsync(params string[] rooms) => new BroadcastOperator(this).SocketsLeaveAsync(rooms);

    /// <summary>Disconnects every socket of this namespace (Node's <c>nsp.disconnectSockets</c>).</summary>
    /// <param name="close">True to close each client's whole connection, every namespace included; false to leave only this namespace.</param>
    public ValueTask DisconnectSocketsAsync(bool close = false) => new BroadcastOperator(this).DisconnectSocketsAsync(close);

    // ---- internals ----

    internal bool IsDynamic => _predicate is not null;

    internal bool Matches(string name, JsonElement auth) => _predicate is not null && _predicate(name, auth);

    /// <summary>A dynamic namespace's child starts with a copy of the parent's middleware and handlers, as in Node.</summary>
    internal SocketIONamespace CreateChild(string name)
    {
        var child = Server.Configure(new SocketIONamespace(Server, name));
        lock (_middlewares)
        {
            child._middlewares.AddRange(_middlewares);
            child._eventMiddlewares = _eventMiddlewares;
        }
        lock (_connectionHandlers)
        {
            child._connectionHandlers.AddRange(_connectionHandlers);
        }
        lock (_children!)
        {
            _children.Add(child);
        }
        return child;
    }

    /// <summary>
    /// A fresh ack id. Ids are per namespace so one encoded broadcast can carry the same id to every recipient;
    /// cluster adapters take one for each broadcast-with-ack they deliver for another node.
    /// </summary>
    public long NextAckId() => Interlocked.Increment(ref _ackIds) - 1;

    internal bool TryGetSocket(string id, out SocketIOSocket socket) => _sockets.TryGetValue(id, out socket!);

    internal void Remove(SocketIOSocket socket) =>
        _sockets.TryRemove(new KeyValuePair<string, SocketIOSocket>(socket.Id, socket));

    internal static string NewId() => Tessera.EngineIO.Internal.RandomIds.New();

    /// <summary>Runs the middleware; returns the socket if it may join, after answering the client otherwise.</summary>
    private RecoveryLog? _recovery;
    private int _recoveryChecked;

    /// <summary>
    /// Connection state recovery's log of this namespace; null when recovery is off, or when the adapter reaches other nodes
    /// (a client may reconnect to any of them, and this log is this node's own: a recovery here could miss what they sent).
    /// </summary>
    internal RecoveryLog? Recovery
    {
        get
        {
            if (System.Threading.Volatile.Read(ref _recoveryChecked) == 0)
            {
                if (Server.Options.ConnectionStateRecovery is { } options)
                {
                    if (Adapter.ReachesOtherNodes && !Adapter.SharesSessions)
                    {
                        SocketIOServer.Log.RecoveryOffInCluster(Server.Logger, Name);
                    }
                    else
                    {
                        // A cluster adapter that shares sessions keeps the lost ones where every node finds them.
                        var shared = Adapter.SharesSessions ? Adapter : null;
                        Interlocked.CompareExchange(ref _recovery, new RecoveryLog(options, TimeProvider.System, shared, Server.Options.SerializerOptions), null);
                    }
                }
                System.Threading.Volatile.Write(ref _recoveryChecked, 1);
            }
            return _recovery;
        }
    }

    /// <summary>The lost session a CONNECT asks to recover (<c>auth.pid</c> and <c>auth.offset</c>, as socket.io-client sends them).</summary>
    private ValueTask<RecoveryLog.Session?> LostSessionAsync(JsonElement auth, out string offset)
    {
        offset = "";
        if (Recovery is not { } log || auth.ValueKind != JsonValueKind.Object
            || !auth.TryGetProperty("pid", out var pid) || pid.ValueKind != JsonValueKind.String
            || !auth.TryGetProperty("offset", out var at) || at.ValueKind != JsonValueKind.String)
        {
            return ValueTask.FromResult<RecoveryLog.Session?>(null);
        }
        offset = at.GetString()!;
        return log.TakeAsync(pid.GetString()!, offset);
    }

    /// <summary>Another node's broadcast, delivered here: kept for connection state recovery (a cluster adapter calls it).</summary>
    internal void RecordRemoteEvent(SocketIOPacket packet, BroadcastOptions options) =>
        Recovery?.AppendRemote(packet.Encoded, options.Rooms, options.Except);

    /// <summary>
    /// A session is recovered only for the user who lost it: the same <c>sub</c> (or name identifier) when the lost socket
    /// had one. Anyone else, however valid their token, gets a new socket.
    /// </summary>
    private static bool SameUser(string? lost, System.Security.Claims.ClaimsPrincipal reconnecting) =>
        string.Equals(lost, SubjectOf(reconnecting), StringComparison.Ordinal);

    /// <summary>The user's <c>sub</c> (or name identifier) that a lost session is kept for.</summary>
    internal static string? SubjectOf(System.Security.Claims.ClaimsPrincipal user) =>
        (user.FindFirst("sub") ?? user.FindFirst(System.Security.Claims.ClaimTypes.NameIdentifier))?.Value;

    internal async ValueTask<SocketIOSocket?> AddAsync(Client client, JsonElement auth)
    {
        // Protocol v4 clients (socket.io-client 2.x) know nothing of recovery, and compute their socket id themselves.
        var v4 = ProtocolV4.IsV4(client.Engine);
        var offset = "";
        var lost = v4 ? null : await LostSessionAsync(auth, out offset).ConfigureAwait(false);
        // The lost socket's id from the start, as Node: the middleware sees the socket it would recover. Nothing of the
        // session (rooms, data, missed events) is given before the middleware has accepted the reconnect.
        var id = v4 ? ProtocolV4.SocketId(Name, client.Engine) : lost?.Sid ?? NewId();
        var socket = new SocketIOSocket(client, this, id, new SocketIOHandshake(client.Engine.Handshake, auth));
        Func<SocketIOSocket, Func<ValueTask>, ValueTask>[] middlewares;
        lock (_middlewares)
        {
            middlewares = [.. _middlewares];
        }
        if (middlewares.Length > 0)
        {
            string? refusal = null;
            object? data = null;
            try
            {
                var passed = false;
                await RunAsync(middlewares, 0, socket, () => passed = true).ConfigureAwait(false);
                if (!passed)
                {
                    refusal = "Connection refused";
                    if (socket.Refusal is { } refused)
                    {
                        (refusal, data) = await RefusedAsync(refused, lost).ConfigureAwait(false);
                    }
                }
            }
            catch (SocketIOConnectException ex)
            {
                (refusal, data) = await RefusedAsync(ex, lost).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                // Exception text may reveal internals: the client gets a generic message, the log gets the details.
                SocketIOServer.Log.MiddlewareFailed(Server.Logger, Name, ex);
                refusal = "Internal server error";
            }
            if (refusal is not null)
            {
                SocketIOServer.Log.ConnectRefused(Server.Logger, Name);
                client.Send(v4
                    ? PacketWriter.ErrorV4(Name, data ?? refusal, Server.Options.SerializerOptions)
                    : PacketWriter.ConnectError(Name, refusal, data, Server.Options.SerializerOptions), false);
                return null;
            }
        }
        if (!client.Engine.IsOpen)
        {
            return null;
        }
        if (lost is not null && !SameUser(lost.Subject, socket.User))
        {
            // Someone else's pid: a fresh socket for them (what the middleware attached comes along), the session discarded.
            var fresh = new SocketIOSocket(client, this, NewId(), socket.Handshake) { User = socket.User };
            foreach (var (type, feature) in socket.Features)
            {
                fresh.Features[type] = feature;
            }
            socket = fresh;
            lost = null;
        }
        if (Recovery is not null && !v4)
        {
            socket.Pid = lost?.Pid ?? NewId();
        }
        _sockets[socket.Id] = socket;
        if (lost is not null)
        {
            foreach (var (key, value) in lost.Data)
            {
                socket.Data[key] = value;
            }
            socket.Recovered = true;
            socket.MissedEvents = Recovery!.MissedAfter(offset, new HashSet<string>([.. lost.Rooms, lost.Sid], StringComparer.Ordinal));
            await Adapter.AddAllAsync(socket.Id, [socket.Id, .. lost.Rooms]).ConfigureAwait(false);
        }
        else
        {
            await Adapter.AddAllAsync(socket.Id, [socket.Id]).ConfigureAwait(false);
        }
        socket.MarkConnected();
        return socket;
    }

    /// <summary>A middleware's refusal (thrown or given to <see cref="SocketIOSocket.Refuse"/>): its message and data.</summary>
    private async ValueTask<(string Message, object? Data)> RefusedAsync(SocketIOConnectException error, RecoveryLog.Session? lost)
    {
        if (lost is not null && error.KeepsLostSession)
        {
            // An expired token: the client may refresh it and recover the session within the window.
            await Recovery!.RestoreAsync(lost).ConfigureAwait(false);
        }
        return (error.Message, error.ErrorData);
    }

    private static ValueTask RunAsync(Func<SocketIOSocket, Func<ValueTask>, ValueTask>[] middlewares, int index, SocketIOSocket socket, Action passed)
    {
        if (index == middlewares.Length)
        {
            passed();
            return ValueTask.CompletedTask;
        }
        return middlewares[index](socket, () => RunAsync(middlewares, index + 1, socket, passed));
    }

    /// <summary>Sends the CONNECT reply, then runs the connection handlers (not awaited, as in Node).</summary>
    internal void Welcome(SocketIOSocket socket)
    {
        socket.SendPacket(socket.SpeaksProtocolV4 ? PacketWriter.ConnectV4(Name) : PacketWriter.Connect(Name, socket.Id, socket.Pid), isVolatile: false);
        if (socket.MissedEvents is { } missed)
        {
            // In order, right after the CONNECT reply and before any connection handler can send something newer.
            socket.MissedEvents = null;
            foreach (var packet in missed)
            {
                socket.SendPacket(packet, isVolatile: false);
            }
        }
        Func<SocketIOSocket, ValueTask>[] handlers;
        lock (_connectionHandlers)
        {
            handlers = [.. _connectionHandlers];
        }
        _ = RunConnectionHandlersAsync(handlers, socket);
    }

    private async Task RunConnectionHandlersAsync(Func<SocketIOSocket, ValueTask>[] handlers, SocketIOSocket socket)
    {
        foreach (var handler in handlers)
        {
            try
            {
                await handler(socket).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                SocketIOServer.Log.HandlerFailed(Server.Logger, "connection", socket.Id, ex);
            }
        }
    }
}
