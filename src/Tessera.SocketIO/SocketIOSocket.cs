using System.Collections.Concurrent;
using System.Security.Claims;
using System.Text.Json;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;
using Tessera.SocketIO.Internal;
using Tessera.SocketIO.Internal.Parser;

namespace Tessera.SocketIO;

/// <summary>A client's membership of one namespace (Node's <c>Socket</c>).</summary>
public sealed class SocketIOSocket
{
    private readonly Client _client;
    private readonly Lock _lock = new();
    // Copy-on-write arrays (empty ones are shared): registering is rare, and dispatching an event reads them
    // without a lock or a copy. A handler is a Func<SocketIOEvent, ValueTask> or an Action<SocketIOEvent>, kept
    // as given so a synchronous handler costs no wrapper per socket.
    private (string Name, Delegate Handler)[] _handlers = [];
    private Func<SocketIOEvent, ValueTask>[] _anyHandlers = [];
    private Func<SocketIOEvent, Func<ValueTask>, ValueTask>[] _middlewares = [];
    private Func<string, ValueTask>[] _onDisconnecting = [];
    private Func<string, ValueTask>[] _onDisconnect = [];
    private ConcurrentDictionary<long, Action<SocketIOArgs?>>? _acks;
    private ConcurrentDictionary<string, object?>? _data;
    private CancellationTokenSource? _disconnected;
    private int _state; // 0 connecting, 1 connected, 2 disconnected

    internal SocketIOSocket(Client client, SocketIONamespace ns, string id, SocketIOHandshake handshake)
    {
        _client = client;
        Namespace = ns;
        Id = id;
        Handshake = handshake;
    }

    /// <summary>The socket id (not the Engine.IO session id); the socket is always in the room of this name.</summary>
    public string Id { get; }

    /// <summary>The private session id of connection state recovery (the CONNECT reply's <c>pid</c>), or null when recovery is off.</summary>
    internal string? Pid { get; set; }

    /// <summary>
    /// Whether this socket is a lost one recovered (connection state recovery, Node's <c>socket.recovered</c>): same id, rooms
    /// and <see cref="Data"/>, and the events it missed were sent after the CONNECT reply.
    /// </summary>
    public bool Recovered { get; internal set; }

    /// <summary>
    /// Refuses this socket's connection from a namespace middleware without throwing: the middleware returns without
    /// calling <c>next</c>, and the client gets <paramref name="error"/>'s message and data in its CONNECT_ERROR exactly
    /// as if the middleware had thrown it (Node's <c>next(err)</c>). For middlewares that refuse often, such as
    /// authentication under a flood of bad tokens: an exception rethrown at every await of the middleware chain
    /// costs far more than the refusal itself.
    /// </summary>
    /// <exception cref="ArgumentNullException"><paramref name="error"/> is null.</exception>
    public void Refuse(SocketIOConnectException error)
    {
        ArgumentNullException.ThrowIfNull(error);
        Refusal = error;
    }

    /// <summary>What <see cref="Refuse"/> was given, for the namespace that runs the middleware.</summary>
    internal SocketIOConnectException? Refusal { get; private set; }

    /// <summary>What a recovered socket missed, sent after its CONNECT reply (then cleared).</summary>
    internal List<Tessera.SocketIO.Internal.Parser.EncodedPacket>? MissedEvents { get; set; }

    /// <summary>
    /// Stops reading the client's connection for <paramref name="delay"/> (at most one second): its next packets,
    /// in every namespace it shares the connection with, wait, and TCP slows the sender down. For rate limits that
    /// shed an abusive client's load instead of only dropping its events; heartbeats wait too, so keep it short.
    /// </summary>
    /// <param name="delay">How long to hold the next packets; longer than one second is treated as one second.</param>
    public void ThrottleIncoming(TimeSpan delay)
    {
        if (delay > TimeSpan.Zero)
        {
            _client.ThrottleIncoming(delay > MaxThrottle ? MaxThrottle : delay);
        }
    }

    private static readonly TimeSpan MaxThrottle = TimeSpan.FromSeconds(1);

    /// <summary>The namespace this socket joined (Node's <c>socket.nsp</c>).</summary>
    public SocketIONamespace Namespace { get; }

    /// <summary>The request and CONNECT payload the socket joined with (Node's <c>socket.handshake</c>).</summary>
    public SocketIOHandshake Handshake { get; }

    private ClaimsPrincipal? _user;

    /// <summary>Who the client is; empty until an authentication layer sets it in a middleware.</summary>
    public ClaimsPrincipal User
    {
        // Created on first read: anonymous sockets that nobody asks about cost nothing.
        get => _user ??= new ClaimsPrincipal(new ClaimsIdentity());
        set => _user = value ?? throw new ArgumentNullException(nameof(value));
    }

    private IFeatureCollection? _features;

    /// <summary>
    /// Typed state that other layers attach to the socket (authentication's token, for one), as ASP.NET Core's
    /// <c>HttpContext.Features</c>. Created on first use: a socket nobody attaches anything to holds none.
    /// </summary>
    public IFeatureCollection Features =>
        _features ?? Interlocked.CompareExchange(ref _features, new SocketFeatures(), null) ?? _features;

    /// <summary>Free-form data attached to the socket (Node's <c>socket.data</c>), visible to FetchSocketsAsync.</summary>
    public ConcurrentDictionary<string, object?> Data => _data ?? Interlocked.CompareExchange(ref _data, new(), null) ?? _data;

    /// <summary>Whether the socket is in its namespace: false while its connection middleware runs and once it has disconnected.</summary>
    public bool Connected => Volatile.Read(ref _state) == 1;

    /// <summary>"polling" or "websocket".</summary>
    public string Transport => _client.Engine.Transport;

    /// <summary>The Engine.IO session carrying this socket (shared by its sockets in other namespaces).</summary>
    public string ConnectionId => _client.Engine.Id;

    /// <summary>Whether the client speaks Socket.IO protocol v4 (socket.io-client 2.x over Engine.IO v3).</summary>
    internal bool SpeaksProtocolV4 => ProtocolV4.IsV4(_client.Engine);

    /// <summary>Rooms this socket is in, including its own id.</summary>
    public IReadOnlySet<string> Rooms => Namespace.Adapter.SocketRooms(Id);

    /// <summary>Cancelled when the socket disconnects: ties timers and background work to the socket's life.</summary>
    public CancellationToken Disconnected
    {
        get
        {
            lock (_lock)
            {
                _disconnected ??= new CancellationTokenSource();
                if (_state == 2)
                {
                    _disconnected.Cancel();
                }
                return _disconnected.Token;
            }
        }
    }

    internal ILogger Logger => Namespace.Server.Logger;

    // ---- handlers ----

    /// <summary>Handles event <paramref name="eventName"/>. Several handlers per event run in registration order.</summary>
    public SocketIOSocket On(string eventName, Func<SocketIOEvent, ValueTask> handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        return AddHandler(eventName, handler);
    }

    /// <summary>Handles event <paramref name="eventName"/> with a synchronous handler. Several handlers per event run in registration order.</summary>
    /// <exception cref="ArgumentNullException"><paramref name="handler"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="eventName"/> is null or empty.</exception>
    public SocketIOSocket On(string eventName, Action<SocketIOEvent> handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        return AddHandler(eventName, handler);
    }

    private SocketIOSocket AddHandler(string eventName, Delegate handler)
    {
        ArgumentException.ThrowIfNullOrEmpty(eventName);
        lock (_lock)
        {
            _handlers = [.. _handlers, (eventName, handler)];
        }
        return this;
    }

    /// <summary>Handles an event whose first argument binds to <typeparamref name="T"/> (JSON, binary → byte[]).</summary>
    public SocketIOSocket On<T>(string eventName, Func<T?, SocketIOEvent, ValueTask> handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        return On(eventName, e => handler(e.Args.Count > 0 ? e.Args.Get<T>(0) : default, e));
    }

    /// <summary>
    /// Handles an event with a synchronous handler whose first argument binds to <typeparamref name="T"/> (JSON,
    /// binary → <c>byte[]</c>); <c>default</c> when the event has no argument.
    /// </summary>
    public SocketIOSocket On<T>(string eventName, Action<T?, SocketIOEvent> handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        return On(eventName, e =>
        {
            handler(e.Args.Count > 0 ? e.Args.Get<T>(0) : default, e);
            return ValueTask.CompletedTask;
        });
    }

    /// <summary>Removes every handler of event <paramref name="eventName"/> registered with <c>On</c> (Node's <c>socket.removeAllListeners(event)</c>).</summary>
    public SocketIOSocket Off(string eventName)
    {
        lock (_lock)
        {
            _handlers = Array.FindAll(_handlers, h => !string.Equals(h.Name, eventName, StringComparison.Ordinal));
        }
        return this;
    }

    /// <summary>Runs for every incoming event, before the event's own handlers.</summary>
    public SocketIOSocket OnAny(Func<SocketIOEvent, ValueTask> handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        lock (_lock)
        {
            _anyHandlers = [.. _anyHandlers, handler];
        }
        return this;
    }

    /// <summary>
    /// Per-packet middleware: runs for every incoming event before its handlers; not calling <c>next</c> drops
    /// the event. A middleware that refuses should acknowledge the event itself if it expects an ack. Call
    /// <c>next</c> at most once: the chain's position is kept on the event, not per call.
    /// </summary>
    public SocketIOSocket Use(Func<SocketIOEvent, Func<ValueTask>, ValueTask> middleware)
    {
        ArgumentNullException.ThrowIfNull(middleware);
        lock (_lock)
        {
            _middlewares = [.. _middlewares, middleware];
        }
        return this;
    }

    /// <summary>Runs when the socket is about to leave its rooms (they are still readable).</summary>
    public SocketIOSocket OnDisconnecting(Func<string, ValueTask> handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        lock (_lock)
        {
            _onDisconnecting = [.. _onDisconnecting, handler];
        }
        return this;
    }

    /// <summary>Runs once the socket has disconnected, with Node's reason string (see <see cref="DisconnectReason"/>).</summary>
    public SocketIOSocket OnDisconnect(Func<string, ValueTask> handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        lock (_lock)
        {
            _onDisconnect = [.. _onDisconnect, handler];
        }
        return this;
    }

    // ---- emitting ----

    /// <summary>Sends an event to this client. Arguments: any JSON-serialisable values, byte[] for binary.</summary>
    public bool Emit(string eventName, params object?[] args)
    {
        // Recorded for connection state recovery as a broadcast to this socket's own room (Node does the same).
        var packet = Namespace.Recovery is null
            ? PacketWriter.Event(Namespace, eventName, args, -1)
            : PacketWriter.RecordedEvent(Namespace, eventName, args, System.Collections.Immutable.ImmutableHashSet.Create(StringComparer.Ordinal, Id), System.Collections.Immutable.ImmutableHashSet<string>.Empty, isVolatile: false);
        return SendPacket(packet, isVolatile: false);
    }

    /// <summary>Sends an event and waits for the client's acknowledgement.</summary>
    public Task<SocketIOArgs> EmitWithAckAsync(string eventName, TimeSpan timeout, params object?[] args)
    {
        var id = Namespace.NextAckId();
        var completion = new TaskCompletionSource<SocketIOArgs>(TaskCreationOptions.RunContinuationsAsynchronously);
        RegisterAck(id, response =>
        {
            if (response is null)
            {
                completion.TrySetException(new SocketIODisconnectedException());
            }
            else
            {
                completion.TrySetResult(response);
            }
        });
        var packet = PacketWriter.Event(Namespace, eventName, args, id);
        if (!SendPacket(packet, isVolatile: false))
        {
            RemoveAck(id);
            return Task.FromException<SocketIOArgs>(new SocketIODisconnectedException());
        }
        return WaitAckAsync(completion.Task, id, timeout);
    }

    /// <summary>Sends an event and binds the first argument of the acknowledgement to <typeparamref name="T"/>.</summary>
    public async Task<T?> EmitWithAckAsync<T>(string eventName, TimeSpan timeout, params object?[] args)
    {
        var response = await EmitWithAckAsync(eventName, timeout, args).ConfigureAwait(false);
        return response.Count > 0 ? response.Get<T>(0) : default;
    }

    private async Task<SocketIOArgs> WaitAckAsync(Task<SocketIOArgs> task, long id, TimeSpan timeout)
    {
        try
        {
            return await task.WaitAsync(timeout).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            RemoveAck(id);
            throw new TimeoutException($"The client did not acknowledge within {timeout.TotalMilliseconds} ms.");
        }
    }

    internal void RegisterAck(long id, Action<SocketIOArgs?> callback) =>
        (_acks ?? Interlocked.CompareExchange(ref _acks, new ConcurrentDictionary<long, Action<SocketIOArgs?>>(), null) ?? _acks)[id] = callback;

    internal void RemoveAck(long id) => _acks?.TryRemove(id, out _);

    internal bool SendAck(long id, object?[] args) =>
        SendPacket(PacketWriter.Ack(Namespace, id, args), isVolatile: false);

    internal bool SendPacket(EncodedPacket packet, bool isVolatile)
    {
        if (Volatile.Read(ref _state) == 2)
        {
            return false;
        }
        return _client.Send(packet, isVolatile);
    }

    // ---- rooms ----

    /// <summary>Adds the socket to <paramref name="room"/> (Node's <c>socket.join</c>); joining a room twice has no effect.</summary>
    /// <exception cref="ArgumentException"><paramref name="room"/> is null or empty.</exception>
    public SocketIOSocket Join(string room)
    {
        ArgumentException.ThrowIfNullOrEmpty(room);
        Wait(Namespace.Adapter.AddAllAsync(Id, [room]));
        return this;
    }

    /// <summary>Adds the socket to each of <paramref name="rooms"/> (Node's <c>socket.join([…])</c>).</summary>
    public SocketIOSocket Join(IEnumerable<string> rooms)
    {
        Wait(Namespace.Adapter.AddAllAsync(Id, rooms.ToArray()));
        return this;
    }

    /// <summary>Removes the socket from <paramref name="room"/> (Node's <c>socket.leave</c>); leaving a room it is not in has no effect.</summary>
    public SocketIOSocket Leave(string room)
    {
        Wait(Namespace.Adapter.DelAsync(Id, room));
        return this;
    }

    private void Wait(ValueTask task)
    {
        if (!task.IsCompletedSuccessfully)
        {
            _ = Observe(task.AsTask(), this);
        }

        static async Task Observe(Task task, SocketIOSocket socket)
        {
            try
            {
                await task.ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                SocketIOServer.Log.AdapterFailed(socket.Logger, ex);
            }
        }
    }

    /// <summary>Every other socket of the namespace.</summary>
    public BroadcastOperator Broadcast => new BroadcastOperator(Namespace).Except(Id);

    /// <summary>Sockets in <paramref name="room"/>, this one excepted (as Node's <c>socket.to</c>).</summary>
    public BroadcastOperator To(string room) => Broadcast.To(room);

    /// <summary>Every other socket of the namespace except those in <paramref name="room"/> (as Node's <c>socket.except</c>).</summary>
    public BroadcastOperator Except(string room) => Broadcast.Except(room);

    // ---- disconnecting ----

    /// <summary>
    /// Leaves the namespace (the client gets a DISCONNECT packet). With <paramref name="close"/>, closes the whole
    /// connection, every namespace included.
    /// </summary>
    public void Disconnect(bool close = false)
    {
        if (!Connected)
        {
            return;
        }
        if (close)
        {
            _client.Disconnect();
            return;
        }
        SendPacket(PacketWriter.Disconnect(Namespace), isVolatile: false);
        _client.Remove(this);
        _ = CloseAsync(DisconnectReason.ServerNamespaceDisconnect);
    }

    internal void MarkConnected() => Interlocked.CompareExchange(ref _state, 1, 0);

    internal async Task CloseAsync(string reason)
    {
        if (Interlocked.Exchange(ref _state, 2) == 2)
        {
            return;
        }
        Func<string, ValueTask>[] disconnecting;
        Func<string, ValueTask>[] disconnect;
        CancellationTokenSource? cts;
        lock (_lock)
        {
            disconnecting = _onDisconnecting;
            disconnect = _onDisconnect;
            cts = _disconnected;
        }
        await RunAsync(disconnecting, reason).ConfigureAwait(false);
        if (Pid is { } pid && Namespace.Recovery is { } log && IsRecoverable(reason))
        {
            // As it was when its transport was lost: what a reconnect within the window gets back.
            var rooms = Rooms.Where(r => !string.Equals(r, Id, StringComparison.Ordinal)).ToArray();
            try
            {
                await log.PersistAsync(new RecoveryLog.Session(Id, pid, rooms, _data is { } data ? [.. data] : [], SocketIONamespace.SubjectOf(User),
                    DateTimeOffset.UtcNow.ToUnixTimeMilliseconds())).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                // A cluster store that does not answer (Redis away): the client reconnects as a new socket.
                SocketIOServer.Log.AdapterFailed(Logger, ex);
            }
        }
        Namespace.Remove(this);
        try
        {
            await Namespace.Adapter.DelAllAsync(Id).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            SocketIOServer.Log.AdapterFailed(Logger, ex);
        }
        if (_acks is { } acks)
        {
            foreach (var id in acks.Keys)
            {
                if (acks.TryRemove(id, out var callback))
                {
                    callback(null);
                }
            }
        }
        cts?.Cancel();
        await RunAsync(disconnect, reason).ConfigureAwait(false);
    }

    /// <summary>Node's RECOVERABLE_DISCONNECT_REASONS: the connection was lost, not ended on purpose by either side.</summary>
    private static bool IsRecoverable(string reason) => reason is DisconnectReason.TransportError or DisconnectReason.TransportClose
        or DisconnectReason.ForcedClose or DisconnectReason.PingTimeout or DisconnectReason.ServerShuttingDown or DisconnectReason.ForcedServerClose;

    private async Task RunAsync(Func<string, ValueTask>[] handlers, string reason)
    {
        foreach (var handler in handlers)
        {
            try
            {
                await handler(reason).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                SocketIOServer.Log.HandlerFailed(Logger, "disconnect", Id, ex);
            }
        }
    }

    // ---- incoming ----

    internal void OnPacket(Packet packet)
    {
        switch (packet.Type)
        {
            case PacketType.Event or PacketType.BinaryEvent:
                OnEvent(packet);
                break;
            case PacketType.Ack or PacketType.BinaryAck:
                if (_acks is { } acks && acks.TryRemove(packet.Id, out var callback))
                {
                    callback(new SocketIOArgs(packet.Data, 0, packet.Buffers, Namespace.Server.Options.SerializerOptions));
                }
                break;
            case PacketType.Disconnect:
                _client.Remove(this);
                _ = CloseAsync(DisconnectReason.ClientNamespaceDisconnect);
                break;
        }
    }

    private void OnEvent(Packet packet)
    {
        var data = packet.Data;
        var first = data[0];
        var name = first.ValueKind == JsonValueKind.String ? first.GetString()! : first.GetRawText();
        var args = new SocketIOArgs(data, 1, packet.Buffers, Namespace.Server.Options.SerializerOptions);
        var e = new SocketIOEvent(this, name, args, packet.Id);
        // Not awaited, as in Node: a handler that awaits the same client (an ack, say) must not block its reads.
        _ = DispatchAsync(e);
    }

    private async Task DispatchAsync(SocketIOEvent e)
    {
        try
        {
            // Completes synchronously (no allocation) when every middleware and handler does.
            await RunMiddlewareAsync(e).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            SocketIOServer.Log.HandlerFailed(Logger, e.Name, Id, ex);
        }
    }

    /// <summary>
    /// Runs the event's next middleware (the namespace's first, then the socket's), or the handlers once all
    /// have called next. The position lives on the event, so the chain costs one delegate per event, if any.
    /// </summary>
    internal ValueTask RunMiddlewareAsync(SocketIOEvent e)
    {
        var shared = Namespace.EventMiddlewares;
        var own = Volatile.Read(ref _middlewares);
        var index = e.MiddlewareIndex++;
        if (index < shared.Length)
        {
            return shared[index](e, e.Next);
        }
        index -= shared.Length;
        return index < own.Length ? own[index](e, e.Next) : InvokeHandlersAsync(e);
    }

    private async ValueTask InvokeHandlersAsync(SocketIOEvent e)
    {
        foreach (var handler in Volatile.Read(ref _anyHandlers))
        {
            await handler(e).ConfigureAwait(false);
        }
        foreach (var (name, handler) in Volatile.Read(ref _handlers))
        {
            if (!string.Equals(name, e.Name, StringComparison.Ordinal))
            {
                continue;
            }
            if (handler is Action<SocketIOEvent> action)
            {
                action(e);
            }
            else
            {
                await ((Func<SocketIOEvent, ValueTask>)handler)(e).ConfigureAwait(false);
            }
        }
    }
}

/// <summary>The socket disconnected before the awaited acknowledgement arrived.</summary>
public sealed class SocketIODisconnectedException : Exception
{
    /// <summary>Creates the exception with its default message.</summary>
    public SocketIODisconnectedException()
        : base("The socket disconnected before acknowledging.")
    {
    }

    /// <summary>Creates the exception with <paramref name="message"/>.</summary>
    public SocketIODisconnectedException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with <paramref name="message"/> and the exception that caused it.</summary>
    public SocketIODisconnectedException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
