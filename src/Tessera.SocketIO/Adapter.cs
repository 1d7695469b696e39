using Tessera.SocketIO.Internal.Parser;

namespace Tessera.SocketIO;

/// <summary>Who a broadcast reaches: sockets in any of <see cref="Rooms"/> (all if empty), minus those in <see cref="Except"/>.</summary>
public sealed record BroadcastOptions
{
    private static readonly HashSet<string> None = [];

    /// <summary>The rooms whose sockets are reached (a socket id names the room of that socket); empty reaches every socket.</summary>
    public IReadOnlySet<string> Rooms { get; init; } = None;

    /// <summary>Sockets in any of these rooms are left out; empty leaves none out.</summary>
    public IReadOnlySet<string> Except { get; init; } = None;

    /// <summary>Drop the packet for clients that cannot take it right now.</summary>
    public bool Volatile { get; init; }

    /// <summary>This node only (cluster adapters do not forward it).</summary>
    public bool Local { get; init; }

    /// <summary>For broadcasts expecting acks: how long the sender waits (other nodes forget the request after it).</summary>
    public TimeSpan? AckTimeout { get; init; }
}

/// <summary>
/// A packet encoded once for all recipients of a broadcast, with its logical parts beside the encoding, so a
/// cluster adapter can carry it to other nodes (Node's adapters send <c>{type, data, nsp, id}</c>) without
/// parsing what was just written.
/// </summary>
public sealed class SocketIOPacket
{
    private IReadOnlyList<ReadOnlyMemory<byte>>? _attachments;

    internal SocketIOPacket(EncodedPacket encoded, long ackId)
    {
        Encoded = encoded;
        AckId = ackId;
    }

    internal EncodedPacket Encoded { get; }

    /// <summary>The ack id shared by every recipient, or -1.</summary>
    public long AckId { get; }

    /// <summary>
    /// The Socket.IO packet type: 2 EVENT or 3 ACK (also for packets with attachments, which the encoding marks as
    /// 5 BINARY_EVENT / 6 BINARY_ACK), 0 CONNECT, 1 DISCONNECT, 4 CONNECT_ERROR.
    /// </summary>
    public int Type => Encoded.Type switch
    {
        Internal.Parser.PacketType.BinaryEvent => (int)Internal.Parser.PacketType.Event,
        Internal.Parser.PacketType.BinaryAck => (int)Internal.Parser.PacketType.Ack,
        var type => (int)type,
    };

    /// <summary>The namespace, e.g. <c>/</c> or <c>/chat</c>.</summary>
    public string Namespace => Encoded.Namespace;

    /// <summary>
    /// The payload as UTF-8 JSON (for an event: <c>["name", …args]</c>), with <c>{"_placeholder":true,"num":n}</c>
    /// where <see cref="Attachments"/>[n] goes; empty when the packet has no payload. A view of the encoding, not a copy.
    /// </summary>
    public ReadOnlyMemory<byte> Data => Encoded.Data;

    /// <summary>The binary attachments the placeholders in <see cref="Data"/> point to.</summary>
    public IReadOnlyList<ReadOnlyMemory<byte>> Attachments => _attachments ??= Encoded.Attachments is { } binary
        ? Array.ConvertAll(binary, static a => a.Body)
        : [];
}

/// <summary>
/// Rooms and broadcasts of one namespace. Every member is asynchronous and takes serialisable arguments so a
/// cluster adapter (Redis) can carry each operation to other nodes.
/// </summary>
public interface ISocketIOAdapter
{
    /// <summary>
    /// Adds a local socket to <paramref name="rooms"/> (Node's <c>addAll</c>); rooms it is already in are ignored. The
    /// namespace calls it with the socket's own id when the socket connects, which makes it known to the adapter.
    /// </summary>
    ValueTask AddAllAsync(string socketId, IReadOnlyCollection<string> rooms);

    /// <summary>Removes a local socket from <paramref name="room"/> (Node's <c>del</c>); no effect if it is not in it.</summary>
    ValueTask DelAsync(string socketId, string room);

    /// <summary>Forgets a local socket and removes it from every room (Node's <c>delAll</c>); called when it disconnects.</summary>
    ValueTask DelAllAsync(string socketId);

    /// <summary>Rooms of a local socket (a snapshot).</summary>
    IReadOnlySet<string> SocketRooms(string socketId);

    /// <summary>
    /// Sends <paramref name="packet"/> to every socket <paramref name="options"/> selects (Node's <c>broadcast</c>);
    /// a cluster adapter also forwards it to the other nodes unless <see cref="BroadcastOptions.Local"/> is set.
    /// </summary>
    ValueTask BroadcastAsync(SocketIOPacket packet, BroadcastOptions options);

    /// <summary>
    /// Broadcasts a packet that expects acks: <paramref name="clientCount"/> is told how many sockets were reached
    /// (called once per node), <paramref name="ack"/> receives each response. Returns how many nodes will call
    /// <paramref name="clientCount"/> (1 on a single node).
    /// </summary>
    ValueTask<int> BroadcastWithAckAsync(SocketIOPacket packet, BroadcastOptions options, Action<int> clientCount, Action<SocketIOArgs> ack);

    /// <summary>
    /// Whether this adapter carries broadcasts and server-side events to other nodes (a cluster adapter, such as Redis's):
    /// layers above can then rely on <see cref="ServerSideEmitAsync"/> instead of polling shared storage. False by default.
    /// </summary>
    bool ReachesOtherNodes => false;

    /// <summary>
    /// Whether sessions lost by their transport (connection state recovery) are kept where every node can take them
    /// (<see cref="PersistSessionAsync"/>, <see cref="TakeSessionAsync"/>), so that a client may recover on another node.
    /// False by default: the namespace keeps them in this process, and with an adapter that reaches other nodes but
    /// shares no sessions, recovery is off.
    /// </summary>
    bool SharesSessions => false;

    /// <summary>Keeps a lost session's bytes under its pid for <paramref name="lifetime"/>, for any node (Node's <c>persistSession</c>).</summary>
    /// <exception cref="NotSupportedException">The adapter does not share sessions (<see cref="SharesSessions"/> is false).</exception>
    ValueTask PersistSessionAsync(string pid, ReadOnlyMemory<byte> session, TimeSpan lifetime) => throw new NotSupportedException("This adapter does not share sessions.");

    /// <summary>Takes a session kept by any node out, so that at most one reconnect gets it (Node's <c>restoreSession</c>); null when there is none.</summary>
    /// <exception cref="NotSupportedException">The adapter does not share sessions (<see cref="SharesSessions"/> is false).</exception>
    ValueTask<byte[]?> TakeSessionAsync(string pid) => throw new NotSupportedException("This adapter does not share sessions.");

    /// <summary>Sends an event to the other nodes' server-side handlers (Node's <c>serverSideEmit</c>); no-op alone.</summary>
    ValueTask ServerSideEmitAsync(string eventName, SocketIOValue[] args);

    /// <summary>
    /// Sends an event to the other nodes' server-side handlers and gathers one answer from each (Node's
    /// <c>serverSideEmitWithAck</c>), waiting at most <paramref name="timeout"/> (null: the adapter's default). Alone (the
    /// default implementation, for an adapter that does not reach other nodes) nobody answers: an empty list.
    /// </summary>
    /// <exception cref="SocketIOAckTimeoutException">Some nodes did not answer in time; it carries the answers that came.</exception>
    /// <exception cref="NotSupportedException">The adapter reaches other nodes but gathers no answers.</exception>
    Task<IReadOnlyList<SocketIOArgs>> ServerSideEmitWithAckAsync(string eventName, SocketIOValue[] args, TimeSpan? timeout) => ReachesOtherNodes
        ? throw new NotSupportedException($"{GetType().Name} does not gather answers to server-side events.")
        : Task.FromResult<IReadOnlyList<SocketIOArgs>>([]);

    /// <summary>
    /// The sockets <paramref name="options"/> selects (Node's <c>fetchSockets</c>), on every node unless
    /// <see cref="BroadcastOptions.Local"/> is set.
    /// </summary>
    ValueTask<IReadOnlyList<SocketIORemoteSocket>> FetchSocketsAsync(BroadcastOptions options);

    /// <summary>Adds the sockets <paramref name="options"/> selects to <paramref name="rooms"/> (Node's <c>addSockets</c>).</summary>
    ValueTask AddSocketsAsync(BroadcastOptions options, IReadOnlyCollection<string> rooms);

    /// <summary>Removes the sockets <paramref name="options"/> selects from <paramref name="rooms"/> (Node's <c>delSockets</c>).</summary>
    ValueTask DelSocketsAsync(BroadcastOptions options, IReadOnlyCollection<string> rooms);

    /// <summary>
    /// Disconnects the sockets <paramref name="options"/> selects from the namespace (Node's <c>disconnectSockets</c>);
    /// with <paramref name="close"/>, closes their whole connections.
    /// </summary>
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

    /// <summary>A snapshot of a socket on this node; actions go straight to <paramref name="local"/>.</summary>
    /// <exception cref="ArgumentNullException"><paramref name="local"/> is null.</exception>
    public SocketIORemoteSocket(SocketIOSocket local)
    {
        ArgumentNullException.ThrowIfNull(local);
        _local = local;
        Id = local.Id;
        Handshake = local.Handshake;
        Rooms = local.Rooms;
        Data = new Dictionary<string, object?>(local.Data);
    }

    /// <summary>The socket id.</summary>
    public string Id { get; }

    /// <summary>The handshake of a local socket; null for a socket on another node (see <see cref="RemoteHandshake"/>).</summary>
    public SocketIOHandshake? Handshake { get; }

    /// <summary>The rooms the socket was in when fetched, its own id included.</summary>
    public IReadOnlySet<string> Rooms { get; }

    /// <summary>A copy of the socket's <c>Data</c> as it was when fetched.</summary>
    public IReadOnlyDictionary<string, object?> Data { get; }

    /// <summary>The live socket when it is on this node.</summary>
    public SocketIOSocket? Local => _local;

    /// <summary>
    /// Sends an event to the socket. For a local socket, false if it was dropped (the socket has disconnected or its
    /// connection is closing); for a remote one it goes through the adapter and the result is always true.
    /// </summary>
    public bool Emit(string eventName, params object?[] args)
    {
        if (_local is not null)
        {
            return _local.Emit(eventName, args);
        }
        _ns!.To(Id).Emit(eventName, args);
        return true;
    }

    /// <summary>Adds the socket to <paramref name="room"/>; for a remote socket through the adapter, without waiting.</summary>
    public void Join(string room)
    {
        if (_local is not null)
        {
            _local.Join(room);
            return;
        }
        _ = _ns!.In(Id).SocketsJoinAsync(room).AsTask();
    }

    /// <summary>Removes the socket from <paramref name="room"/>; for a remote socket through the adapter, without waiting.</summary>
    public void Leave(string room)
    {
        if (_local is not null)
        {
            _local.Leave(room);
            return;
        }
        _ = _ns!.In(Id).SocketsLeaveAsync(room).AsTask();
    }

    /// <summary>
    /// Disconnects the socket from its namespace, or with <paramref name="close"/> closes its whole connection; for a
    /// remote socket through the adapter, without waiting.
    /// </summary>
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
