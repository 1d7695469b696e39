using System.Text.Json;
using System.Text.RegularExpressions;

namespace Tessera.SocketIO.Tests;

/// <summary>Server-side API: what application code calls, observed by raw clients.</summary>
public class ApiTests
{
    private static async Task<(RawClient Client, string Sid)> JoinAsync(SioTestServer server, string packet = "40")
    {
        var client = await server.ConnectRawAsync();
        var reply = await client.ConnectNamespaceAsync(packet);
        var sid = JsonDocument.Parse(reply[(reply.IndexOf('{'))..]).RootElement.GetProperty("sid").GetString()!;
        return (client, sid);
    }

    [Fact]
    public async Task Server_side_emit_refuses_binary_arguments_and_leaves_later_packets_intact()
    {
        await using var server = await SioTestServer.StartAsync();
        var error = await Assert.ThrowsAsync<ArgumentException>(() => server.Io.ServerSideEmitAsync("sync", new byte[] { 1, 2 }).AsTask());
        Assert.Contains("binary", error.Message, StringComparison.Ordinal);
        // The refused bytes must not ride along with the next packet encoded on this thread.
        using var client = await server.ConnectRawAsync();
        await client.ConnectNamespaceAsync();
        await client.SendAsync("42[\"echo\",\"plain\"]");
        Assert.Equal("42[\"echo\",\"plain\"]", await client.NextTextAsync());
    }

    [Fact]
    public async Task Dynamic_namespaces_match_by_regex_and_share_the_parents_handlers()
    {
        await using var server = await SioTestServer.StartAsync(setup: io =>
            io.Of(new Regex("^/team-\\d+$")).OnConnection(socket => socket.Emit("welcome", socket.Namespace.Name)));
        var (client, _) = await JoinAsync(server, "40/team-42,");
        using (client)
        {
            Assert.Equal("42/team-42,[\"welcome\",\"/team-42\"]", await client.NextTextAsync());
            await client.SendAsync("40/team-x,");
            Assert.Equal("44/team-x,{\"message\":\"Invalid namespace\"}", await client.NextTextAsync());
        }
    }

    [Fact]
    public async Task Packet_middleware_can_drop_events_and_on_any_sees_the_rest()
    {
        await using var server = await SioTestServer.StartAsync(setup: io => io.Of("/guarded").OnConnection(socket =>
        {
            socket.Use((e, next) => e.Name == "forbidden" ? ValueTask.CompletedTask : next());
            socket.OnAny(e =>
            {
                e.Socket.Emit("seen", e.Name);
                return ValueTask.CompletedTask;
            });
        }));
        var (client, _) = await JoinAsync(server, "40/guarded,");
        using (client)
        {
            await client.SendAsync("42/guarded,[\"forbidden\"]");
            await client.SendAsync("42/guarded,[\"allowed\"]");
            Assert.Equal("42/guarded,[\"seen\",\"allowed\"]", await client.NextTextAsync());
        }
    }

    [Fact]
    public async Task Connects_refused_in_a_row_are_answered_ever_more_slowly_and_a_good_one_still_joins()
    {
        await using var server = await SioTestServer.StartAsync();
        var client = await server.ConnectRawAsync();
        using (client)
        {
            // Nine unknown namespaces in a row: the connection is held 5, 10, 20 … 640 ms after each refusal.
            var clock = System.Diagnostics.Stopwatch.StartNew();
            for (var i = 0; i < 9; i++)
            {
                await client.SendAsync("40/nope,");
                Assert.StartsWith("44/nope,", await client.NextTextAsync());
            }
            Assert.True(clock.Elapsed >= TimeSpan.FromMilliseconds(1270), $"nine refusals took only {clock.Elapsed.TotalMilliseconds} ms");
            var reply = await client.ConnectNamespaceAsync("40");
            Assert.StartsWith("40{\"sid\":", reply);
        }
    }

    [Fact]
    public async Task ThrottleIncoming_holds_the_clients_next_packets_in_every_namespace()
    {
        var seen = new System.Collections.Concurrent.ConcurrentQueue<(string Name, long At)>();
        await using var server = await SioTestServer.StartAsync(setup: io =>
        {
            io.Of("/").OnConnection(socket =>
            {
                socket.On("slow-down", e =>
                {
                    seen.Enqueue((e.Name, System.Diagnostics.Stopwatch.GetTimestamp()));
                    e.Socket.ThrottleIncoming(TimeSpan.FromMilliseconds(400));
                });
                socket.On("next", e =>
                {
                    seen.Enqueue((e.Name, System.Diagnostics.Stopwatch.GetTimestamp()));
                    e.Socket.Emit("done");
                });
            });
        });
        var (client, _) = await JoinAsync(server, "40");
        using (client)
        {
            // Sent together: the second waits on the server, unread, until the throttle is over.
            await client.SendAsync("42[\"slow-down\"]");
            await client.SendAsync("42[\"next\"]");
            Assert.Equal("42[\"done\"]", await client.NextTextAsync());
        }
        var events = seen.ToArray();
        Assert.Equal(["slow-down", "next"], events.Select(e => e.Name));
        var held = System.Diagnostics.Stopwatch.GetElapsedTime(events[0].At, events[1].At);
        Assert.True(held >= TimeSpan.FromMilliseconds(390), $"the next event ran {held.TotalMilliseconds} ms later");
    }

    [Fact]
    public async Task Namespace_event_middleware_runs_before_the_sockets_own_and_handlers_run_in_order()
    {
        await using var server = await SioTestServer.StartAsync(setup: io =>
        {
            var ns = io.Of("/layered");
            // Registered once for the namespace; it sees every event before socket-level middleware does.
            ns.UseEventMiddleware((e, next) =>
            {
                e.Socket.Emit("trace", "namespace:" + e.Name);
                return e.Name == "blocked" ? ValueTask.CompletedTask : next();
            });
            ns.OnConnection(socket =>
            {
                socket.Use((e, next) =>
                {
                    e.Socket.Emit("trace", "socket:" + e.Name);
                    return next();
                });
                socket.On("go", e => e.Socket.Emit("trace", "sync handler"));
                socket.On("go", async e =>
                {
                    await Task.Yield();
                    e.Socket.Emit("trace", "async handler");
                });
                socket.On("gone", e => e.Socket.Emit("trace", "never"));
                socket.Off("gone");
                socket.On("gone", e => e.Socket.Emit("trace", "after off"));
            });
        });
        var (client, _) = await JoinAsync(server, "40/layered,");
        using (client)
        {
            await client.SendAsync("42/layered,[\"blocked\"]");
            Assert.Equal("42/layered,[\"trace\",\"namespace:blocked\"]", await client.NextTextAsync());
            await client.SendAsync("42/layered,[\"go\"]");
            Assert.Equal("42/layered,[\"trace\",\"namespace:go\"]", await client.NextTextAsync());
            Assert.Equal("42/layered,[\"trace\",\"socket:go\"]", await client.NextTextAsync());
            Assert.Equal("42/layered,[\"trace\",\"sync handler\"]", await client.NextTextAsync());
            Assert.Equal("42/layered,[\"trace\",\"async handler\"]", await client.NextTextAsync());
            await client.SendAsync("42/layered,[\"gone\"]");
            Assert.Equal("42/layered,[\"trace\",\"namespace:gone\"]", await client.NextTextAsync());
            Assert.Equal("42/layered,[\"trace\",\"socket:gone\"]", await client.NextTextAsync());
            Assert.Equal("42/layered,[\"trace\",\"after off\"]", await client.NextTextAsync());
        }
    }

    [Fact]
    public async Task Fetch_sockets_join_leave_and_disconnect_act_on_the_selected_sockets()
    {
        await using var server = await SioTestServer.StartAsync();
        var (a, sidA) = await JoinAsync(server);
        var (b, sidB) = await JoinAsync(server);
        using (a)
        using (b)
        {
            await a.SendAsync("421[\"join\",\"blue\"]");
            Assert.Equal("431[true]", await a.NextTextAsync());

            var blue = await server.Io.In("blue").FetchSocketsAsync();
            Assert.Equal([sidA], blue.Select(s => s.Id));
            Assert.Contains("blue", blue[0].Rooms);
            Assert.Equal(2, (await server.Io.FetchSocketsAsync()).Count);

            await server.Io.In(sidB).SocketsJoinAsync("blue");
            Assert.Equal(2, (await server.Io.In("blue").FetchSocketsAsync()).Count);
            server.Io.To("blue").Emit("hello", 1);
            Assert.Equal("42[\"hello\",1]", await a.NextTextAsync());
            Assert.Equal("42[\"hello\",1]", await b.NextTextAsync());

            await server.Io.In("blue").Except(sidA).SocketsLeaveAsync("blue");
            Assert.Equal([sidA], (await server.Io.In("blue").FetchSocketsAsync()).Select(s => s.Id));

            await server.Io.In(sidB).DisconnectSocketsAsync();
            Assert.Equal("41", await b.NextTextAsync());
            Assert.Equal([sidA], (await server.Io.FetchSocketsAsync()).Select(s => s.Id));
        }
    }

    [Fact]
    public async Task Broadcast_with_acks_collects_one_response_per_client()
    {
        await using var server = await SioTestServer.StartAsync();
        var (a, _) = await JoinAsync(server);
        var (b, _) = await JoinAsync(server);
        using (a)
        using (b)
        {
            var pending = server.Io.Timeout(TimeSpan.FromSeconds(5)).EmitWithAckAsync("poll", "q");
            foreach (var (client, answer) in new[] { (a, "yes"), (b, "no") })
            {
                var question = await client.NextTextAsync();
                var id = question[2..question.IndexOf('[')];
                Assert.Equal("[\"poll\",\"q\"]", question[(2 + id.Length)..]);
                await client.SendAsync($"43{id}[\"{answer}\"]");
            }
            var responses = await pending;
            Assert.Equal(["no", "yes"], responses.Select(r => r.Get<string>(0)).Order());
        }
    }

    [Fact]
    public async Task Broadcast_with_acks_times_out_with_the_responses_received()
    {
        await using var server = await SioTestServer.StartAsync();
        var (a, _) = await JoinAsync(server);
        var (b, _) = await JoinAsync(server);
        using (a)
        using (b)
        {
            var pending = server.Io.Timeout(TimeSpan.FromMilliseconds(1500)).EmitWithAckAsync("poll"); // room for a loaded machine: a must answer in time
            var question = await a.NextTextAsync();
            await a.SendAsync($"43{question[2..question.IndexOf('[')]}[1]");
            await b.NextTextAsync();
            var error = await Assert.ThrowsAsync<SocketIOAckTimeoutException>(() => pending);
            Assert.Equal(2, error.Expected);
            Assert.Single(error.Responses);
        }
    }

    [Fact]
    public async Task Server_disconnect_sends_disconnect_and_runs_disconnect_handlers_with_reasons()
    {
        var reasons = System.Threading.Channels.Channel.CreateUnbounded<string>();
        await using var server = await SioTestServer.StartAsync(setup: io => io.Of("/bye").OnConnection(socket =>
        {
            socket.OnDisconnect(reason => reasons.Writer.WriteAsync(reason));
            socket.On("kick", e => e.Socket.Disconnect());
        }));
        var (client, _) = await JoinAsync(server, "40/bye,");
        using (client)
        {
            await client.SendAsync("42/bye,[\"kick\"]");
            Assert.Equal("41/bye,", await client.NextTextAsync());
            Assert.Equal(DisconnectReason.ServerNamespaceDisconnect, await reasons.Reader.ReadAsync());

            await client.ConnectNamespaceAsync("40/bye,");
            await client.SendAsync("41/bye,");
            Assert.Equal(DisconnectReason.ClientNamespaceDisconnect, await reasons.Reader.ReadAsync());

            await client.ConnectNamespaceAsync("40/bye,");
            client.WebSocket.Abort();
            Assert.Equal(DisconnectReason.TransportClose, await reasons.Reader.ReadAsync());
        }
    }

    [Fact]
    public void Reserved_event_names_cannot_be_emitted()
    {
        var io = new SocketIOServer(Microsoft.Extensions.Options.Options.Create(new SocketIOOptions()));
        Assert.Throws<ArgumentException>(() => io.Emit("disconnect"));
    }
}

public class AdapterTests
{
    [Fact]
    public async Task Socket_id_rooms_are_implicit_and_combine_with_named_rooms_without_duplicates()
    {
        var io = new SocketIOServer(Microsoft.Extensions.Options.Options.Create(new SocketIOOptions()));
        var adapter = io.Sockets.Adapter;
        await adapter.AddAllAsync("a", ["a"]);
        await adapter.AddAllAsync("b", ["b", "blue"]);
        await adapter.AddAllAsync("c", ["c", "a"]); // c joins the room named after socket a
        Assert.Equal(["a"], adapter.SocketRooms("a").Order());
        Assert.Equal(["b", "blue"], adapter.SocketRooms("b").Order());
        Assert.Equal(["a", "c"], adapter.SocketRooms("c").Order());
        await adapter.DelAsync("b", "blue");
        Assert.Equal(["b"], adapter.SocketRooms("b").Order());
        await adapter.DelAllAsync("c");
        Assert.Empty(adapter.SocketRooms("c"));
    }
}
