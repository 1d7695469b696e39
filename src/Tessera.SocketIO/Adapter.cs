using Tessera.SocketIO.Internal.Parser;

namespace Tessera.SocketIO;

/// <summary>Who a broadcast reaches: sockets in any of <see cref="Rooms"/> (all if empty), minus those in <see cref="Except"/>.</summary>
public sealed record BroadcastOptions
{
    private static readonly HashSet<string> None = [];

    public IReadOnlySet<string> Rooms { get; init; } = None;

    public IReadOnlySet<string> Except { get; init; } = None;

    /// <summary>Drop the packet for clients that cannot take it right now.</summary>
    public bool Volatile { get; init; }

    /// <summary>This node only (cluster adapters do not forward it).</summary>
    public bool Local { get; init; }

    /// <summary>For broadcasts expecting acks: how long the sender waits (other nodes forget the request after it).</summary>
    public TimeSpan? AckTimeout { get; init; }
}

/// <summary>A packet encoded once for all recipients of a broadcast.</summary>
public sealed class SocketIOPacket
{
    internal SocketIOPacket(EncodedPacket encoded, long ackId)
    {
        Encoded = encoded;
        AckId = ackId;
    }

    internal EncodedPacket Encoded { get; }

    /// <summary>The ack id shared by every recipient, or -1.</summary>
    public long AckId { get; }
}

/// <summary>
/// Rooms and broadcasts of one namespace. Every member is asynchronous and takes serialisable arguments so a
/// cluster adapter (Redis) can carry each operation to other nodes.
/// </summary>
public interface ISocketIOAdapter
{
    ValueTask AddAllAsync(string socketId, IReadOnlyCollection<string> rooms);

    ValueTask DelAsync(string socketId, string room);

    ValueTask DelAllAsync(string socketId);

    /// <summary>Rooms of a local socket (a snapshot).</summary>
    IReadOnlySet<string> SocketRooms(string socketId);

    ValueTask BroadcastAsync(SocketIOPacket packet, BroadcastOptions options);

    /// <summary>
    /// Broadcasts a packet that expects acks: <paramref name="clientCount"/> is told how many sockets were reached
    /// (called once per node), <paramref name="ack"/> receives each response. Returns how many nodes will call
    /// <paramref name="clientCount"/> (1 on a single node).
    /// </summary>
    ValueTask<int> BroadcastWithAckAsync(SocketIOPacket packet, BroadcastOptions options, Action<int> clientCount, Action<SocketIOArgs> ack);

    /// <summary>Sends an event to the other nodes' server-side handlers (Node's <c>serverSideEmit</c>); no-op alone.</summary>
    ValueTask ServerSideEmitAsync(string eventName, SocketIOValue[] args);

    ValueTask<IReadOnlyList<SocketIORemoteSocket>> FetchSocketsAsync(BroadcastOptions options);

    ValueTask AddSocketsAsync(BroadcastOptions options, IReadOnlyCollection<string> rooms);

    ValueTask DelSocketsAsync(BroadcastOptions options, IReadOnlyCollection<string> rooms);

    ValueTask DisconnectSocketsAsync(BroadcastOptions options, bool close);
}

/// <summary>A socket as <c>FetchSocketsAsync</c> returns it: a snapshot plus the operations that work anywhere.</summary>
public sealed class SocketIORemoteSocket
{
    private readonly SocketIOSocket? _local;
    private readonly SocketIONamespace? _ns;

    /// <summary>A socket on another node, as a cluster adapter reports it; actions go through the adapter.</summary>
    public SocketIORemoteSocket(SocketIONamespace ns, string id, IReadOnlySet<string> rooms, IReadOnlyDictionary<string, object?> data, System.Text.Json.JsonElement remoteHandshake)
    {
        ArgumentNullException.ThrowIfNull(ns);
        _ns = ns;
        Id = id;
        Rooms = rooms;
        Data = data;
        RemoteHandshake = remoteHandshake;
    }

    /// <summary>For a remote socket: its handshake as the other node described it (headers, address, auth …).</summary>
    public System.Text.Json.JsonElement RemoteHandshake { get; }

    public SocketIORemoteSocket(SocketIOSocket local)
    {
        ArgumentNullException.ThrowIfNull(local);
        _local = local;
        Id = local.Id;
        Handshake = local.Handshake;
        Rooms = local.Rooms;
        Data = new Dictionary<string, object?>(local.Data);
    }

    public string Id { get; }

    public SocketIOHandshake? Handshake { get; }

    public IReadOnlySet<string> Rooms { get; }

    public IReadOnlyDictionary<string, object?> Data { get; }

    /// <summary>The live socket when it is on this node.</summary>
    public SocketIOSocket? Local => _local;

    public bool Emit(string eventName, params object?[] args)
    {
        if (_local is not null)
        {
            return _local.Emit(eventName, args);
        }
        _ns!.To(Id).Emit(eventName, args);
        return true;
    }

    public void Join(string room)
    {
        if (_local is not null)
        {
            _local.Join(room);
            return;
        }
        _ = _ns!.In(Id).SocketsJoinAsync(room).AsTask();
    }

    public void Leave(string room)
    {
        if (_local is not null)
        {
            _local.Leave(room);
            return;
        }
        _ = _ns!.In(Id).SocketsLeaveAsync(room).AsTask();
    }

    public void Disconnect(bool close = false)
    {
        if (_local is not null)
        {
            _local.Disconnect(close);
            return;
        }
        _ = _ns!.In(Id).DisconnectSocketsAsync(close).AsTask();
    }
}
