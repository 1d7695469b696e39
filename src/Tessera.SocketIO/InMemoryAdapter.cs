namespace Tessera.SocketIO;

/// <summary>
/// The single-node adapter: room membership in two maps, broadcasts straight to local sockets. Every socket is
/// implicitly in the room named by its id; that room is not stored, so an idle socket that joined nothing
/// costs one map entry. Cluster adapters wrap it for the local part of every operation.
/// </summary>
public sealed class InMemoryAdapter(SocketIONamespace ns) : ISocketIOAdapter
{
    private readonly Lock _lock = new();

    // Named rooms → members. Socket-id rooms are implicit (see ContainsSocket).
    private readonly Dictionary<string, HashSet<string>> _rooms = new(StringComparer.Ordinal);

    // Socket → named rooms it joined; null until it joins one.
    private readonly Dictionary<string, HashSet<string>?> _sids = new(StringComparer.Ordinal);

    /// <inheritdoc/>
    public ValueTask AddAllAsync(string socketId, IReadOnlyCollection<string> rooms)
    {
        lock (_lock)
        {
            _sids.TryGetValue(socketId, out var joined);
            foreach (var room in rooms)
            {
                if (room == socketId)
                {
                    continue;
                }
                joined ??= new HashSet<string>(StringComparer.Ordinal);
                if (!joined.Add(room))
                {
                    continue;
                }
                if (!_rooms.TryGetValue(room, out var members))
                {
                    _rooms[room] = members = new HashSet<string>(StringComparer.Ordinal);
                }
                members.Add(socketId);
            }
            _sids[socketId] = joined;
        }
        return ValueTask.CompletedTask;
    }

    /// <inheritdoc/>
    public ValueTask DelAsync(string socketId, string room)
    {
        lock (_lock)
        {
            if (_sids.TryGetValue(socketId, out var joined) && joined is not null)
            {
                joined.Remove(room);
            }
            RemoveFromRoomLocked(socketId, room);
        }
        return ValueTask.CompletedTask;
    }

    /// <inheritdoc/>
    public ValueTask DelAllAsync(string socketId)
    {
        lock (_lock)
        {
            if (_sids.Remove(socketId, out var joined) && joined is not null)
            {
                foreach (var room in joined)
                {
                    RemoveFromRoomLocked(socketId, room);
                }
            }
        }
        return ValueTask.CompletedTask;
    }

    private void RemoveFromRoomLocked(string socketId, string room)
    {
        if (_rooms.TryGetValue(room, out var members) && members.Remove(socketId) && members.Count == 0)
        {
            _rooms.Remove(room);
        }
    }

    /// <summary>Every room with a local socket in it, socket-id rooms included (as Node's adapter lists them).</summary>
    public IReadOnlyCollection<string> AllRooms()
    {
        lock (_lock)
        {
            return [.. _rooms.Keys, .. _sids.Keys];
        }
    }

    /// <summary>Whether any local socket is in the room (named rooms and socket ids).</summary>
    public bool HasRoom(string room)
    {
        lock (_lock)
        {
            return _rooms.ContainsKey(room) || _sids.ContainsKey(room);
        }
    }

    /// <inheritdoc/>
    public IReadOnlySet<string> SocketRooms(string socketId)
    {
        lock (_lock)
        {
            if (!_sids.TryGetValue(socketId, out var joined))
            {
                return new HashSet<string>();
            }
            var rooms = joined is null ? new HashSet<string>(1, StringComparer.Ordinal) : new HashSet<string>(joined, StringComparer.Ordinal);
            rooms.Add(socketId);
            return rooms;
        }
    }

    /// <summary>Local sockets the options select; computed under the lock, used after it is released.</summary>
    private List<SocketIOSocket> Targets(BroadcastOptions options)
    {
        var targets = new List<SocketIOSocket>();
        lock (_lock)
        {
            if (options.Rooms.Count == 0)
            {
                foreach (var (sid, joined) in _sids)
                {
                    AddIfIncluded(sid, joined);
                }
                return targets;
            }
            HashSet<string>? seen = null;
            foreach (var room in options.Rooms)
            {
                var members = _rooms.GetValueOrDefault(room);
                // A room named after a socket id holds that socket (plus any that joined it by name).
                var owner = _sids.TryGetValue(room, out var ownerRooms);
                if (members is null && !owner)
                {
                    continue;
                }
                if (options.Rooms.Count > 1 || (members is not null && owner))
                {
                    seen ??= new HashSet<string>(StringComparer.Ordinal);
                }
                if (owner && (seen is null || seen.Add(room)))
                {
                    AddIfIncluded(room, ownerRooms);
                }
                if (members is null)
                {
                    continue;
                }
                foreach (var sid in members)
                {
                    if (seen is null || seen.Add(sid))
                    {
                        AddIfIncluded(sid, _sids[sid]);
                    }
                }
            }
        }
        return targets;

        void AddIfIncluded(string sid, HashSet<string>? joined)
        {
            if (options.Except.Count > 0 && (options.Except.Contains(sid) || (joined is not null && joined.Overlaps(options.Except))))
            {
                return;
            }
            if (ns.TryGetSocket(sid, out var socket))
            {
                targets.Add(socket);
            }
        }
    }

    /// <inheritdoc/>
    public ValueTask BroadcastAsync(SocketIOPacket packet, BroadcastOptions options)
    {
        foreach (var socket in Targets(options))
        {
            socket.SendPacket(packet.Encoded, options.Volatile);
        }
        return ValueTask.CompletedTask;
    }

    /// <inheritdoc/>
    public ValueTask ServerSideEmitAsync(string eventName, SocketIOValue[] args) => ValueTask.CompletedTask;

    /// <inheritdoc/>
    public ValueTask<int> BroadcastWithAckAsync(SocketIOPacket packet, BroadcastOptions options, Action<int> clientCount, Action<SocketIOArgs> ack)
    {
        var count = 0;
        foreach (var socket in Targets(options))
        {
            socket.RegisterAck(packet.AckId, response =>
            {
                if (response is not null)
                {
                    ack(response);
                }
            });
            if (socket.SendPacket(packet.Encoded, options.Volatile))
            {
                count++;
            }
            else
            {
                socket.RemoveAck(packet.AckId);
            }
        }
        clientCount(count);
        return ValueTask.FromResult(1);
    }

    /// <inheritdoc/>
    public ValueTask<IReadOnlyList<SocketIORemoteSocket>> FetchSocketsAsync(BroadcastOptions options)
    {
        var sockets = Targets(options);
        var result = new SocketIORemoteSocket[sockets.Count];
        for (var i = 0; i < result.Length; i++)
        {
            result[i] = new SocketIORemoteSocket(sockets[i]);
        }
        return ValueTask.FromResult<IReadOnlyList<SocketIORemoteSocket>>(result);
    }

    /// <inheritdoc/>
    public async ValueTask AddSocketsAsync(BroadcastOptions options, IReadOnlyCollection<string> rooms)
    {
        foreach (var socket in Targets(options))
        {
            await AddAllAsync(socket.Id, rooms).ConfigureAwait(false);
        }
    }

    /// <inheritdoc/>
    public async ValueTask DelSocketsAsync(BroadcastOptions options, IReadOnlyCollection<string> rooms)
    {
        foreach (var socket in Targets(options))
        {
            foreach (var room in rooms)
            {
                await DelAsync(socket.Id, room).ConfigureAwait(false);
            }
        }
    }

    /// <inheritdoc/>
    public ValueTask DisconnectSocketsAsync(BroadcastOptions options, bool close)
    {
        foreach (var socket in Targets(options))
        {
            socket.Disconnect(close);
        }
        return ValueTask.CompletedTask;
    }
}
