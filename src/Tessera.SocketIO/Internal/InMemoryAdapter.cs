namespace Tessera.SocketIO.Internal;

/// <summary>The single-node adapter: room membership in two maps, broadcasts straight to local sockets.</summary>
internal sealed class InMemoryAdapter(SocketIONamespace ns) : ISocketIOAdapter
{
    private static readonly HashSet<string> NoRooms = [];

    private readonly Lock _lock = new();
    private readonly Dictionary<string, HashSet<string>> _rooms = new(StringComparer.Ordinal);
    private readonly Dictionary<string, HashSet<string>> _sids = new(StringComparer.Ordinal);

    public ValueTask AddAllAsync(string socketId, IReadOnlyCollection<string> rooms)
    {
        lock (_lock)
        {
            if (!_sids.TryGetValue(socketId, out var joined))
            {
                _sids[socketId] = joined = new HashSet<string>(StringComparer.Ordinal);
            }
            foreach (var room in rooms)
            {
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
        }
        return ValueTask.CompletedTask;
    }

    public ValueTask DelAsync(string socketId, string room)
    {
        lock (_lock)
        {
            if (_sids.TryGetValue(socketId, out var joined))
            {
                joined.Remove(room);
            }
            RemoveFromRoomLocked(socketId, room);
        }
        return ValueTask.CompletedTask;
    }

    public ValueTask DelAllAsync(string socketId)
    {
        lock (_lock)
        {
            if (_sids.Remove(socketId, out var joined))
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

    public IReadOnlySet<string> SocketRooms(string socketId)
    {
        lock (_lock)
        {
            return _sids.TryGetValue(socketId, out var joined) ? new HashSet<string>(joined, StringComparer.Ordinal) : NoRooms;
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
            }
            else
            {
                HashSet<string>? seen = options.Rooms.Count > 1 ? new HashSet<string>(StringComparer.Ordinal) : null;
                foreach (var room in options.Rooms)
                {
                    if (!_rooms.TryGetValue(room, out var members))
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
        }
        return targets;

        void AddIfIncluded(string sid, HashSet<string> joined)
        {
            if (options.Except.Count > 0 && joined.Overlaps(options.Except))
            {
                return;
            }
            if (ns.TryGetSocket(sid, out var socket))
            {
                targets.Add(socket);
            }
        }
    }

    public ValueTask BroadcastAsync(SocketIOPacket packet, BroadcastOptions options)
    {
        foreach (var socket in Targets(options))
        {
            socket.SendPacket(packet.Encoded, options.Volatile);
        }
        return ValueTask.CompletedTask;
    }

    public ValueTask BroadcastWithAckAsync(SocketIOPacket packet, BroadcastOptions options, Action<int> clientCount, Action<SocketIOArgs> ack)
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
        return ValueTask.CompletedTask;
    }

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

    public async ValueTask AddSocketsAsync(BroadcastOptions options, IReadOnlyCollection<string> rooms)
    {
        foreach (var socket in Targets(options))
        {
            await AddAllAsync(socket.Id, rooms).ConfigureAwait(false);
        }
    }

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

    public ValueTask DisconnectSocketsAsync(BroadcastOptions options, bool close)
    {
        foreach (var socket in Targets(options))
        {
            socket.Disconnect(close);
        }
        return ValueTask.CompletedTask;
    }
}
