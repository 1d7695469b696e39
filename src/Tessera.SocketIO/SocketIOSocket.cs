using System.Collections.Concurrent;
using System.Security.Claims;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Tessera.SocketIO.Internal;
using Tessera.SocketIO.Internal.Parser;

namespace Tessera.SocketIO;

/// <summary>A client's membership of one namespace (Node's <c>Socket</c>).</summary>
public sealed class SocketIOSocket
{
    private readonly Client _client;
    private readonly Lock _lock = new();
    private Dictionary<string, List<Func<SocketIOEvent, ValueTask>>>? _handlers;
    private List<Func<SocketIOEvent, ValueTask>>? _anyHandlers;
    private List<Func<SocketIOEvent, Func<ValueTask>, ValueTask>>? _middlewares;
    private List<Func<string, ValueTask>>? _onDisconnecting;
    private List<Func<string, ValueTask>>? _onDisconnect;
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

    public SocketIONamespace Namespace { get; }

    public SocketIOHandshake Handshake { get; }

    private ClaimsPrincipal? _user;

    /// <summary>Who the client is; empty until an authentication layer sets it in a middleware.</summary>
    public ClaimsPrincipal User
    {
        // Created on first read: anonymous sockets that nobody asks about cost nothing.
        get => _user ??= new ClaimsPrincipal(new ClaimsIdentity());
        set => _user = value ?? throw new ArgumentNullException(nameof(value));
    }

    /// <summary>Free-form data attached to the socket (Node's <c>socket.data</c>), visible to FetchSocketsAsync.</summary>
    public ConcurrentDictionary<string, object?> Data => _data ?? Interlocked.CompareExchange(ref _data, new(), null) ?? _data;

    public bool Connected => Volatile.Read(ref _state) == 1;

    /// <summary>"polling" or "websocket".</summary>
    public string Transport => _client.Engine.Transport;

    /// <summary>The Engine.IO session carrying this socket (shared by its sockets in other namespaces).</summary>
    public string ConnectionId => _client.Engine.Id;

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
        ArgumentException.ThrowIfNullOrEmpty(eventName);
        ArgumentNullException.ThrowIfNull(handler);
        lock (_lock)
        {
            _handlers ??= new Dictionary<string, List<Func<SocketIOEvent, ValueTask>>>(StringComparer.Ordinal);
            if (!_handlers.TryGetValue(eventName, out var list))
            {
                _handlers[eventName] = list = new List<Func<SocketIOEvent, ValueTask>>(1);
            }
            list.Add(handler);
        }
        return this;
    }

    public SocketIOSocket On(string eventName, Action<SocketIOEvent> handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        return On(eventName, e =>
        {
            handler(e);
            return ValueTask.CompletedTask;
        });
    }

    /// <summary>Handles an event whose first argument binds to <typeparamref name="T"/> (JSON, binary → byte[]).</summary>
    public SocketIOSocket On<T>(string eventName, Func<T?, SocketIOEvent, ValueTask> handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        return On(eventName, e => handler(e.Args.Count > 0 ? e.Args.Get<T>(0) : default, e));
    }

    public SocketIOSocket On<T>(string eventName, Action<T?, SocketIOEvent> handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        return On(eventName, e =>
        {
            handler(e.Args.Count > 0 ? e.Args.Get<T>(0) : default, e);
            return ValueTask.CompletedTask;
        });
    }

    public SocketIOSocket Off(string eventName)
    {
        lock (_lock)
        {
            _handlers?.Remove(eventName);
        }
        return this;
    }

    /// <summary>Runs for every incoming event, before the event's own handlers.</summary>
    public SocketIOSocket OnAny(Func<SocketIOEvent, ValueTask> handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        lock (_lock)
        {
            (_anyHandlers ??= []).Add(handler);
        }
        return this;
    }

    /// <summary>
    /// Per-packet middleware: runs for every incoming event before its handlers; not calling <c>next</c> drops
    /// the event. A middleware that refuses should acknowledge the event itself if it expects an ack.
    /// </summary>
    public SocketIOSocket Use(Func<SocketIOEvent, Func<ValueTask>, ValueTask> middleware)
    {
        ArgumentNullException.ThrowIfNull(middleware);
        lock (_lock)
        {
            (_middlewares ??= []).Add(middleware);
        }
        return this;
    }

    /// <summary>Runs when the socket is about to leave its rooms (they are still readable).</summary>
    public SocketIOSocket OnDisconnecting(Func<string, ValueTask> handler)
    {
        lock (_lock)
        {
            (_onDisconnecting ??= []).Add(handler);
        }
        return this;
    }

    /// <summary>Runs once the socket has disconnected, with Node's reason string (see <see cref="DisconnectReason"/>).</summary>
    public SocketIOSocket OnDisconnect(Func<string, ValueTask> handler)
    {
        lock (_lock)
        {
            (_onDisconnect ??= []).Add(handler);
        }
        return this;
    }

    // ---- emitting ----

    /// <summary>Sends an event to this client. Arguments: any JSON-serialisable values, byte[] for binary.</summary>
    public bool Emit(string eventName, params object?[] args)
    {
        var packet = PacketWriter.Event(Namespace, eventName, args, -1);
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

    public SocketIOSocket Join(string room)
    {
        ArgumentException.ThrowIfNullOrEmpty(room);
        Wait(Namespace.Adapter.AddAllAsync(Id, [room]));
        return this;
    }

    public SocketIOSocket Join(IEnumerable<string> rooms)
    {
        Wait(Namespace.Adapter.AddAllAsync(Id, rooms.ToArray()));
        return this;
    }

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
        List<Func<string, ValueTask>>? disconnecting;
        List<Func<string, ValueTask>>? disconnect;
        CancellationTokenSource? cts;
        lock (_lock)
        {
            disconnecting = _onDisconnecting;
            disconnect = _onDisconnect;
            cts = _disconnected;
        }
        await RunAsync(disconnecting, reason).ConfigureAwait(false);
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

    private async Task RunAsync(List<Func<string, ValueTask>>? handlers, string reason)
    {
        if (handlers is null)
        {
            return;
        }
        foreach (var handler in handlers.ToArray())
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
            Func<SocketIOEvent, Func<ValueTask>, ValueTask>[]? middlewares;
            lock (_lock)
            {
                middlewares = _middlewares?.ToArray();
            }
            if (middlewares is null)
            {
                await InvokeHandlersAsync(e).ConfigureAwait(false);
                return;
            }
            await RunMiddlewareAsync(middlewares, 0, e).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            SocketIOServer.Log.HandlerFailed(Logger, e.Name, Id, ex);
        }
    }

    private ValueTask RunMiddlewareAsync(Func<SocketIOEvent, Func<ValueTask>, ValueTask>[] middlewares, int index, SocketIOEvent e) =>
        index == middlewares.Length
            ? InvokeHandlersAsync(e)
            : middlewares[index](e, () => RunMiddlewareAsync(middlewares, index + 1, e));

    private async ValueTask InvokeHandlersAsync(SocketIOEvent e)
    {
        Func<SocketIOEvent, ValueTask>[]? any;
        Func<SocketIOEvent, ValueTask>[]? handlers = null;
        lock (_lock)
        {
            any = _anyHandlers?.ToArray();
            if (_handlers is not null && _handlers.TryGetValue(e.Name, out var list))
            {
                handlers = list.ToArray();
            }
        }
        if (any is not null)
        {
            foreach (var handler in any)
            {
                await handler(e).ConfigureAwait(false);
            }
        }
        if (handlers is not null)
        {
            foreach (var handler in handlers)
            {
                await handler(e).ConfigureAwait(false);
            }
        }
    }
}

/// <summary>The socket disconnected before the awaited acknowledgement arrived.</summary>
public sealed class SocketIODisconnectedException : Exception
{
    public SocketIODisconnectedException()
        : base("The socket disconnected before acknowledging.")
    {
    }

    public SocketIODisconnectedException(string message)
        : base(message)
    {
    }

    public SocketIODisconnectedException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
