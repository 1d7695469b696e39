using System.Text.Json;
using Tessera.EngineIO;
using Tessera.SocketIO.Internal.Parser;

namespace Tessera.SocketIO.Internal;

/// <summary>
/// One Engine.IO connection seen by Socket.IO: decodes packets (reassembling binary attachments), multiplexes
/// namespaces, and enforces connectTimeout. Its calls are serialised by the Engine.IO layer.
/// </summary>
internal sealed class Client
{
    private readonly SocketIOServer _server;
    // One socket per namespace joined; almost always one or two, so a small array scanned linearly (guarded by
    // lock (this)) costs less per connection than a dictionary.
    private SocketIOSocket[] _sockets = [];
    private HashSet<string>? _connecting;
    private readonly SocketIOPacketDecoder _decoder;
    private Timer? _connectTimer;
    private bool _closed;

    public Client(SocketIOServer server, EngineIOSocket engine)
    {
        _server = server;
        Engine = engine;
        _decoder = server.Options.Parser.CreateDecoder();
        _connectTimer = new Timer(static s => ((Client)s!).OnConnectTimeout(), this, server.Options.ConnectTimeout, Timeout.InfiniteTimeSpan);
    }

    public EngineIOSocket Engine { get; }

    private void OnConnectTimeout()
    {
        lock (this)
        {
            if (_sockets.Length > 0 || _closed)
            {
                return;
            }
        }
        SocketIOServer.Log.ConnectTimeout(_server.Logger, Engine.Id);
        Engine.Close();
    }

    // Environment.TickCount64 before which incoming packets wait (SocketIOSocket.ThrottleIncoming).
    private long _resumeAt;

    // CONNECTs refused in a row on this connection.
    private int _refusals;

    /// <summary>
    /// A refused CONNECT (bad token, unknown namespace…) holds the connection's next packets for 5 ms, doubling
    /// with each refusal in a row up to 1 s: an honest client is refused once or twice and never notices, while a
    /// client that retries forged CONNECTs on one session gets about one answer a second.
    /// </summary>
    private void OnConnectRefused()
    {
        var refusals = Interlocked.Increment(ref _refusals);
        ThrottleIncoming(TimeSpan.FromMilliseconds(Math.Min(1000, 5 << Math.Min(refusals - 1, 8))));
    }

    /// <summary>Holds the next incoming packets for <paramref name="delay"/>: the Engine.IO layer awaits each one, so
    /// the connection is not read meanwhile and TCP slows the sender down.</summary>
    public void ThrottleIncoming(TimeSpan delay)
    {
        var until = Environment.TickCount64 + (long)Math.Ceiling(delay.TotalMilliseconds);
        long current;
        do
        {
            current = Volatile.Read(ref _resumeAt);
            if (until <= current)
            {
                return;
            }
        }
        while (Interlocked.CompareExchange(ref _resumeAt, until, current) != current);
    }

    public ValueTask OnMessageAsync(EngineIOMessage message)
    {
        var wait = Volatile.Read(ref _resumeAt) - Environment.TickCount64;
        return wait > 0 ? HandleLaterAsync(message, wait) : HandleAsync(message);
    }

    private async ValueTask HandleLaterAsync(EngineIOMessage message, long milliseconds)
    {
        // The message's bytes stay valid: the transport reuses its buffer only once this completes.
        await Task.Delay(TimeSpan.FromMilliseconds(milliseconds)).ConfigureAwait(false);
        await HandleAsync(message).ConfigureAwait(false);
    }

    private ValueTask HandleAsync(EngineIOMessage message)
    {
        var packet = _decoder.AddPacket(message, out var error);
        if (error is not null)
        {
            return Fail(error);
        }
        return packet is null ? ValueTask.CompletedTask : DispatchAsync(packet);
    }

    /// <summary>A malformed packet closes the whole connection, as in Node (sockets see "forced close").</summary>
    private ValueTask Fail(string reason)
    {
        SocketIOServer.Log.MalformedPacket(_server.Logger, Engine.Id, reason);
        Engine.Close();
        return ValueTask.CompletedTask;
    }

    private async ValueTask DispatchAsync(Packet packet)
    {
        // Protocol v4 (socket.io-client 2.x) carries a CONNECT's auth as the namespace's query.
        var (name, auth) = packet.Type == PacketType.Connect && ProtocolV4.IsV4(Engine)
            ? ProtocolV4.SplitNamespace(packet.Namespace)
            : (packet.Namespace, packet.Data);
        SocketIOSocket? socket;
        bool connecting;
        lock (this)
        {
            socket = Find(name);
            connecting = _connecting?.Contains(name) == true;
        }
        if (packet.Type == PacketType.Connect)
        {
            if (socket is not null || connecting)
            {
                // A second CONNECT to a joined namespace: Node closes the connection.
                Disconnect();
                return;
            }
            await ConnectAsync(name, auth).ConfigureAwait(false);
            return;
        }
        if (socket is null || packet.Type == PacketType.ConnectError)
        {
            // A packet for a namespace the client has not joined.
            Disconnect();
            return;
        }
        socket.OnPacket(packet);
    }

    /// <summary>
    /// An Engine.IO v3 client (Socket.IO protocol v4) never sends a CONNECT for the main namespace: the server joins
    /// it at once, with an empty auth (its token is in the handshake's query), as Node's <c>onconnection</c>.
    /// </summary>
    public async Task ConnectMainNamespaceAsync()
    {
        try
        {
            await ConnectAsync("/", SocketIOHandshake.EmptyObject).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            SocketIOServer.Log.HandlerFailed(_server.Logger, "connect", Engine.Id, ex);
            Engine.Close();
        }
    }

    private async ValueTask ConnectAsync(string name, JsonElement auth)
    {
        var ns = _server.ResolveNamespace(name, auth);
        if (ns is null)
        {
            Send(PacketWriter.ConnectError(name, "Invalid namespace", null, _server.Options.SerializerOptions), false);
            OnConnectRefused();
            return;
        }
        lock (this)
        {
            (_connecting ??= new HashSet<string>(StringComparer.Ordinal)).Add(name);
        }
        try
        {
            var socket = await ns.AddAsync(this, auth).ConfigureAwait(false);
            if (socket is null)
            {
                OnConnectRefused();
                return;
            }
            Volatile.Write(ref _refusals, 0);
            lock (this)
            {
                if (_closed)
                {
                    _ = socket.CloseAsync(DisconnectReason.TransportClose);
                    return;
                }
                _sockets = [.. _sockets.Where(s => s.Namespace.Name != name), socket];
                _connectTimer?.Dispose();
                _connectTimer = null;
            }
            ns.Welcome(socket);
        }
        finally
        {
            lock (this)
            {
                _connecting!.Remove(name);
                if (_connecting.Count == 0)
                {
                    // Only needed while a CONNECT is under way: a connected client holds no set.
                    _connecting = null;
                }
            }
        }
    }

    public bool Send(EncodedPacket packet, bool isVolatile)
    {
        if (!ReferenceEquals(_server.Options.Parser, SocketIOParser.Default))
        {
            return SendEncoded(packet.WireFor(_server.Options.Parser), isVolatile);
        }
        if (isVolatile)
        {
            // A volatile packet with attachments would be useless half-sent: only send it whole.
            if (!Engine.SendVolatile(packet.Text))
            {
                return false;
            }
        }
        else if (!Engine.Send(packet.Text))
        {
            return false;
        }
        if (packet.Attachments is { } attachments)
        {
            foreach (var attachment in attachments)
            {
                Engine.Send(attachment);
            }
        }
        return true;
    }

    /// <summary>A packet in another parser's encoding: sent whole or (volatile, when the transport is busy) not at all.</summary>
    private bool SendEncoded(IReadOnlyList<EngineIOOutgoingMessage> messages, bool isVolatile)
    {
        if (messages.Count == 0)
        {
            return false;
        }
        if (!(isVolatile ? Engine.SendVolatile(messages[0]) : Engine.Send(messages[0])))
        {
            return false;
        }
        for (var i = 1; i < messages.Count; i++)
        {
            Engine.Send(messages[i]);
        }
        return true;
    }

    private SocketIOSocket? Find(string ns)
    {
        foreach (var socket in _sockets)
        {
            if (string.Equals(socket.Namespace.Name, ns, StringComparison.Ordinal))
            {
                return socket;
            }
        }
        return null;
    }

    public void Remove(SocketIOSocket socket)
    {
        lock (this)
        {
            if (Array.IndexOf(_sockets, socket) >= 0)
            {
                _sockets = Array.FindAll(_sockets, s => !ReferenceEquals(s, socket));
            }
        }
    }

    /// <summary>Server-side close of the whole connection (Node's client.close()).</summary>
    public void Disconnect()
    {
        _ = CloseSocketsAsync(DisconnectReason.ForcedServerClose);
        Engine.Close();
    }

    public Task OnEngineCloseAsync(string reason) => CloseSocketsAsync(reason);

    private async Task CloseSocketsAsync(string reason)
    {
        SocketIOSocket[] sockets;
        lock (this)
        {
            _closed = true;
            _connectTimer?.Dispose();
            _connectTimer = null;
            sockets = _sockets;
            _sockets = [];
        }
        foreach (var socket in sockets)
        {
            await socket.CloseAsync(reason).ConfigureAwait(false);
        }
    }
}
