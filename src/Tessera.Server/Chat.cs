using System.Text.Json;
using Tessera.SocketIO;

namespace Tessera.Server;

/// <summary>
/// The chat the demo page uses (shared/CONTRACT.md §3), on "/": rooms, messages signed with the name from the
/// token (never from the client), and presence per user (first socket in, last socket out). Identity sits in
/// socket.Data so FetchSocketsAsync sees it on every node once the adapter is a cluster one.
/// </summary>
public static class Chat
{
    public const int MaxTextLength = 4000;
    public const int MaxRoomLength = 64;
    private const string RoomPrefix = "chat:";

    public static void Map(SocketIOServer io, ServerLimits limits)
    {
        var ns = io.Sockets;
        ns.OnConnection(socket =>
        {
            var sub = socket.User.FindFirst("sub")?.Value ?? socket.Id;
            var name = socket.User.Identity?.Name ?? sub;
            socket.Data["sub"] = sub;
            socket.Data["name"] = name;
            var me = new Member(sub, name);
            if (socket.Recovered)
            {
                // Its rooms came back with it (connection state recovery): "joined" again where it was the user's last
                // socket, as "left" went out when the connection dropped.
                _ = AnnounceRecoveredAsync(ns, socket, me);
            }

            socket.On("chat:join", async e =>
            {
                if (Room(e) is not { } room)
                {
                    e.Ack(Refusal("invalid_room"));
                    return;
                }
                var key = RoomPrefix + room;
                var rooms = e.Socket.Rooms;
                if (!rooms.Contains(key) && rooms.Count(r => r.StartsWith(RoomPrefix, StringComparison.Ordinal)) >= limits.RoomsPerSocket)
                {
                    e.Ack(Refusal("too_many_rooms"));
                    return;
                }
                var before = await ns.In(key).FetchSocketsAsync();
                var first = !before.Any(s => SubOf(s) == sub);
                e.Socket.Join(key);
                if (first)
                {
                    // The user's other sockets are already there (or not): tell only the others.
                    ns.To(key).Except("user:" + sub).Emit("presence", new { room, joined = me });
                }
                var members = before.Select(s => new Member(SubOf(s) ?? s.Id, NameOf(s))).Append(me).DistinctBy(m => m.Sub).ToArray();
                e.Ack(new { ok = true, members });
            });

            socket.On("chat:leave", async e =>
            {
                if (Room(e) is not { } room)
                {
                    e.Ack(Refusal("invalid_room"));
                    return;
                }
                var key = RoomPrefix + room;
                if (!e.Socket.Rooms.Contains(key))
                {
                    e.Ack(Refusal("not_member"));
                    return;
                }
                e.Socket.Leave(key);
                await AnnounceLeftIfLastAsync(ns, key, room, me, e.Socket.Id);
                e.Ack(new { ok = true });
            });

            socket.On("chat:message", e =>
            {
                if (Room(e) is not { } room)
                {
                    e.Ack(Refusal("invalid_room"));
                    return;
                }
                var request = e.Args[0];
                if (!request.TryGetProperty("text", out var textElement) || textElement.ValueKind != JsonValueKind.String)
                {
                    e.Ack(Refusal("invalid_text"));
                    return;
                }
                var text = textElement.GetString()!;
                if (text.Length > MaxTextLength)
                {
                    e.Ack(Refusal("text_too_long"));
                    return;
                }
                var key = RoomPrefix + room;
                if (!e.Socket.Rooms.Contains(key))
                {
                    e.Ack(Refusal("not_member"));
                    return;
                }
                ns.To(key).Emit("chat:message", new { room, from = me, text, at = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() });
                e.Ack(new { ok = true });
            });

            socket.OnDisconnecting(async _ =>
            {
                foreach (var key in socket.Rooms.Where(r => r.StartsWith(RoomPrefix, StringComparison.Ordinal)))
                {
                    await AnnounceLeftIfLastAsync(ns, key, key[RoomPrefix.Length..], me, socket.Id);
                }
            });
        });
    }

    private sealed record Member(string Sub, string Name);

    private static object Refusal(string code) => new { ok = false, code };

    private static string? SubOf(SocketIORemoteSocket socket) => Text(socket.Data.GetValueOrDefault("sub"));

    private static string NameOf(SocketIORemoteSocket socket) => Text(socket.Data.GetValueOrDefault("name")) ?? "?";

    // Local sockets hold strings; sockets on other nodes arrive as JSON.
    private static string? Text(object? value) => value switch
    {
        string text => text,
        JsonElement { ValueKind: JsonValueKind.String } element => element.GetString(),
        _ => null,
    };

    /// <summary>The {room} argument if valid: a non-empty string of at most 64 UTF-16 code units.</summary>
    private static string? Room(SocketIOEvent e)
    {
        if (e.Args.Count == 0 || e.Args[0].ValueKind != JsonValueKind.Object
            || !e.Args[0].TryGetProperty("room", out var room) || room.ValueKind != JsonValueKind.String)
        {
            return null;
        }
        var name = room.GetString()!;
        return name.Length is > 0 and <= MaxRoomLength ? name : null;
    }

    private static async Task AnnounceRecoveredAsync(SocketIONamespace ns, SocketIOSocket socket, Member me)
    {
        foreach (var key in socket.Rooms.Where(r => r.StartsWith(RoomPrefix, StringComparison.Ordinal)).ToList())
        {
            var present = await ns.In(key).FetchSocketsAsync();
            if (!present.Any(s => s.Id != socket.Id && SubOf(s) == me.Sub))
            {
                ns.To(key).Except("user:" + me.Sub).Emit("presence", new { room = key[RoomPrefix.Length..], joined = me });
            }
        }
    }

    /// <summary>Presence "left" when the user's last socket leaves the room (this one excluded: it is going).</summary>
    private static async Task AnnounceLeftIfLastAsync(SocketIONamespace ns, string key, string room, Member me, string leavingSocketId)
    {
        var remaining = await ns.In(key).FetchSocketsAsync();
        if (remaining.Any(s => s.Id != leavingSocketId && SubOf(s) == me.Sub))
        {
            return;
        }
        ns.To(key).Except(leavingSocketId).Except("user:" + me.Sub).Emit("presence", new { room, left = me });
    }
}
