using System.Security.Claims;
using System.Security.Cryptography;
using Tessera.SocketIO.Internal.Parser;

namespace Tessera.SocketIO.Internal;

/// <summary>
/// A namespace's memory for connection state recovery (Node's <c>SessionAwareAdapter</c>): every event sent without an ack
/// and not volatile, under its offset, with the rooms it went to; and the sessions lost by a transport failure, by their
/// <c>pid</c>. Both are forgotten after <see cref="ConnectionStateRecoveryOptions.MaxDisconnectionDuration"/>; the events
/// also beyond <see cref="ConnectionStateRecoveryOptions.MaxBufferedEvents"/>.
/// </summary>
internal sealed class RecoveryLog(ConnectionStateRecoveryOptions options, TimeProvider time)
{
    private sealed record Entry(string Offset, long Sequence, IReadOnlySet<string> Rooms, IReadOnlySet<string> Except, EncodedPacket Packet, long At);

    /// <summary>A socket lost by its transport, as it was.</summary>
    internal sealed record Session(string Sid, string Pid, string[] Rooms, KeyValuePair<string, object?>[] Data, ClaimsPrincipal User, long At);

    // Offsets are unique in this process (a restarted process has no sessions to recover): a random prefix and a counter.
    private readonly string _prefix = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(3)) + "-";
    private readonly Queue<Entry> _entries = new();
    private readonly Dictionary<string, Session> _sessions = new(StringComparer.Ordinal);
    private readonly Queue<(string Pid, long At)> _sessionOrder = new();
    private long _counter;
    private long _sequence;
    // Each kept event's place in the order of sending, by offset: what a reconnect's offset is looked up in.
    private readonly Dictionary<string, long> _position = new(StringComparer.Ordinal);

    private long Now => time.GetUtcNow().ToUnixTimeMilliseconds();

    private long MaxAge => (long)options.MaxDisconnectionDuration.TotalMilliseconds;

    public string NextOffset() => _prefix + Interlocked.Increment(ref _counter).ToString("x", System.Globalization.CultureInfo.InvariantCulture);

    public void Append(string offset, IReadOnlySet<string> rooms, IReadOnlySet<string> except, EncodedPacket packet)
    {
        var now = Now;
        lock (_entries)
        {
            var entry = new Entry(offset, ++_sequence, rooms, except, packet, now);
            _entries.Enqueue(entry);
            _position[offset] = entry.Sequence;
            while (_entries.Count > options.MaxBufferedEvents || (_entries.TryPeek(out var oldest) && now - oldest.At > MaxAge))
            {
                var gone = _entries.Dequeue();
                _position.Remove(gone.Offset);
            }
        }
    }

    public void Persist(Session session)
    {
        lock (_sessions)
        {
            _sessions[session.Pid] = session;
            _sessionOrder.Enqueue((session.Pid, session.At));
            var now = Now;
            while (_sessionOrder.TryPeek(out var oldest) && now - oldest.At > MaxAge)
            {
                _sessionOrder.Dequeue();
                if (_sessions.TryGetValue(oldest.Pid, out var s) && s.At == oldest.At)
                {
                    _sessions.Remove(oldest.Pid);
                }
            }
        }
    }

    /// <summary>Takes the session of <paramref name="pid"/> out, if it is still within its time and the offset is known.</summary>
    public Session? Take(string pid, string offset)
    {
        Session? session;
        lock (_sessions)
        {
            if (!_sessions.Remove(pid, out session))
            {
                return null;
            }
        }
        if (Now - session.At > MaxAge)
        {
            return null;
        }
        lock (_entries)
        {
            if (!_position.ContainsKey(offset))
            {
                // Its last event was forgotten (too old, or beyond the bound): what it missed cannot be told.
                return null;
            }
        }
        return session;
    }

    /// <summary>Puts back a session whose reconnect was refused with <see cref="SocketIOConnectException.KeepsLostSession"/>.</summary>
    public void Restore(Session session)
    {
        lock (_sessions)
        {
            _sessions[session.Pid] = session;
        }
    }

    /// <summary>The events after <paramref name="offset"/> that went to one of <paramref name="rooms"/> (the socket's own id among them), in order.</summary>
    public List<EncodedPacket> MissedAfter(string offset, IReadOnlySet<string> rooms)
    {
        var missed = new List<EncodedPacket>();
        lock (_entries)
        {
            if (!_position.TryGetValue(offset, out var after))
            {
                return missed;
            }
            foreach (var entry in _entries)
            {
                if (entry.Sequence > after && Reaches(entry, rooms))
                {
                    missed.Add(entry.Packet);
                }
            }
        }
        return missed;
    }

    private static bool Reaches(Entry entry, IReadOnlySet<string> rooms)
    {
        if (entry.Except.Count > 0 && entry.Except.Overlaps(rooms))
        {
            return false;
        }
        return entry.Rooms.Count == 0 || entry.Rooms.Overlaps(rooms);
    }
}
