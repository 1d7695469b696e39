using System.Security.Cryptography;
using System.Text.Json;
using Tessera.SocketIO.Internal.Parser;

namespace Tessera.SocketIO.Internal;

/// <summary>
/// A namespace's memory for connection state recovery (Node's <c>SessionAwareAdapter</c>): every event sent without an ack
/// and not volatile, under its offset, with the rooms it went to; and the sessions lost by a transport failure, by their
/// <c>pid</c>. Both are forgotten after <see cref="ConnectionStateRecoveryOptions.MaxDisconnectionDuration"/>; the events
/// also beyond <see cref="ConnectionStateRecoveryOptions.MaxBufferedEvents"/>.
/// <para>
/// In a cluster whose adapter shares sessions (<see cref="ISocketIOAdapter.SharesSessions"/>), every node's log also holds
/// the events other nodes broadcast (<see cref="AppendRemote"/>, under the offset their sender gave them), and lost
/// sessions are kept by the adapter (Redis) instead of this process, so a client may recover on any node.
/// </para>
/// </summary>
internal sealed class RecoveryLog(ConnectionStateRecoveryOptions options, TimeProvider time, ISocketIOAdapter? shared = null, JsonSerializerOptions? json = null)
{
    private sealed record Entry(string Offset, long Sequence, IReadOnlySet<string> Rooms, IReadOnlySet<string> Except, EncodedPacket Packet, long At);

    /// <summary>A socket lost by its transport, as it was; <see cref="Subject"/> is its user's <c>sub</c> (or name identifier).</summary>
    internal sealed record Session(string Sid, string Pid, string[] Rooms, KeyValuePair<string, object?>[] Data, string? Subject, long At);

    // Offsets are unique among the nodes of a cluster (a restarted process has no sessions to recover): 6 random
    // bytes and a counter.
    private readonly string _prefix = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6)) + "-";
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

    public ValueTask PersistAsync(Session session)
    {
        if (shared is not null)
        {
            return shared.PersistSessionAsync(session.Pid, Serialize(session), options.MaxDisconnectionDuration);
        }
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
        return ValueTask.CompletedTask;
    }

    /// <summary>Takes the session of <paramref name="pid"/> out, if it is still within its time and the offset is known.</summary>
    public async ValueTask<Session?> TakeAsync(string pid, string offset)
    {
        Session? session;
        if (shared is not null)
        {
            session = Deserialize(await shared.TakeSessionAsync(pid).ConfigureAwait(false));
            if (session is null || session.Pid != pid)
            {
                return null;
            }
        }
        else
        {
            lock (_sessions)
            {
                if (!_sessions.Remove(pid, out session))
                {
                    return null;
                }
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
    public ValueTask RestoreAsync(Session session)
    {
        if (shared is not null)
        {
            var left = MaxAge - (Now - session.At);
            return left <= 0 ? ValueTask.CompletedTask : shared.PersistSessionAsync(session.Pid, Serialize(session), TimeSpan.FromMilliseconds(left));
        }
        lock (_sessions)
        {
            _sessions[session.Pid] = session;
        }
        return ValueTask.CompletedTask;
    }

    /// <summary>
    /// Another node's broadcast, as this node delivered it: kept under the offset its sender wrote as its last argument
    /// (an event without one, from a node with recovery off or from Node's adapter, is not kept).
    /// </summary>
    public void AppendRemote(EncodedPacket packet, IReadOnlySet<string> rooms, IReadOnlySet<string> except)
    {
        if (packet.Id < 0 && TryReadOffset(packet.Data.Span, out var offset))
        {
            Append(offset, rooms, except, packet);
        }
    }

    /// <summary>The offset a sender appended: the payload's last element, a string <c>&lt;hex&gt;-&lt;hex&gt;</c> (see <see cref="NextOffset"/>).</summary>
    internal static bool TryReadOffset(ReadOnlySpan<byte> json, out string offset)
    {
        offset = "";
        if (json.Length < 6 || json[^1] != (byte)']' || json[^2] != (byte)'"')
        {
            return false;
        }
        var body = json[..^2];
        var open = body.LastIndexOf((byte)'"');
        if (open < 1 || body[open - 1] != (byte)',')
        {
            return false;
        }
        var text = body[(open + 1)..];
        var dash = text.IndexOf((byte)'-');
        if (dash <= 0 || dash == text.Length - 1 || text.Length > 64)
        {
            return false;
        }
        foreach (var b in text)
        {
            if (b != (byte)'-' && !char.IsAsciiHexDigitLower((char)b) && !char.IsAsciiDigit((char)b))
            {
                return false;
            }
        }
        offset = System.Text.Encoding.ASCII.GetString(text);
        return true;
    }

    private byte[] Serialize(Session session)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("sid", session.Sid);
            writer.WriteString("pid", session.Pid);
            writer.WriteString("sub", session.Subject);
            writer.WriteNumber("at", session.At);
            writer.WriteStartArray("rooms");
            foreach (var room in session.Rooms)
            {
                writer.WriteStringValue(room);
            }
            writer.WriteEndArray();
            writer.WriteStartObject("data");
            foreach (var (key, value) in session.Data)
            {
                writer.WritePropertyName(key);
                Json.Serialize(writer, value, json);
            }
            writer.WriteEndObject();
            writer.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>A session another node kept; its data values come back as JsonElements. Null when unreadable.</summary>
    private static Session? Deserialize(byte[]? bytes)
    {
        if (bytes is null)
        {
            return null;
        }
        try
        {
            var root = JsonDocument.Parse(bytes).RootElement;
            var rooms = root.GetProperty("rooms").EnumerateArray().Select(r => r.GetString()!).ToArray();
            var data = root.GetProperty("data").EnumerateObject().Select(p => new KeyValuePair<string, object?>(p.Name, p.Value.Clone())).ToArray();
            var sub = root.GetProperty("sub");
            return new Session(root.GetProperty("sid").GetString()!, root.GetProperty("pid").GetString()!, rooms, data,
                sub.ValueKind == JsonValueKind.String ? sub.GetString() : null, root.GetProperty("at").GetInt64());
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException or KeyNotFoundException or FormatException)
        {
            return null;
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
