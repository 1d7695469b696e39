using System.Text.Json;
using System.Threading.Channels;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Tessera.SocketIO;

namespace Tessera.Redis.Tests;

/// <summary>Two in-process nodes with the Redis adapter on a real redis-server: the server-side API across nodes.</summary>
public class RedisAdapterTests
{
    private sealed class Node : IAsyncDisposable
    {
        private readonly WebApplication _app;

        private Node(WebApplication app, string baseUrl)
        {
            _app = app;
            BaseUrl = baseUrl;
            Io = app.Services.GetRequiredService<SocketIOServer>();
        }

        public string BaseUrl { get; }
        public SocketIOServer Io { get; }
        public Channel<string> ServerSide { get; } = Channel.CreateUnbounded<string>();

        public static async Task<Node> StartAsync(RedisServer redis)
        {
            Node? node = null;
            var (app, url) = await LoopbackApp.StartAsync(
                builder =>
                {
                    builder.Services.AddSocketIO().AddRedisAdapter(o => o.Configuration = redis.Configuration);
                },
                app =>
                {
                    var io = app.Services.GetRequiredService<SocketIOServer>();
                    io.OnConnection(socket => socket.On<string>("join", (room, e) =>
                    {
                        e.Socket.Join(room!);
                        e.Ack(true);
                    }));
                    io.OnServerSideEmit("hello", e =>
                    {
                        node!.ServerSide.Writer.TryWrite(e.Args[0].GetRawText());
                        e.Ack("hi back");
                        return ValueTask.CompletedTask;
                    });
                    app.MapSocketIO();
                });
            node = new Node(app, url);
            return node;
        }

        public async Task<(RawClient Client, string Sid)> ConnectAsync(params string[] rooms)
        {
            var client = await RawClient.ConnectAsync(BaseUrl);
            var reply = await client.ConnectNamespaceAsync();
            var sid = JsonDocument.Parse(reply[2..]).RootElement.GetProperty("sid").GetString()!;
            var ack = 1;
            foreach (var room in rooms)
            {
                await client.SendAsync($"42{ack}[\"join\",\"{room}\"]");
                Assert.Equal($"43{ack++}[true]", await client.NextTextAsync());
            }
            return (client, sid);
        }

        public async ValueTask DisposeAsync()
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }
    }

    [Fact]
    public async Task Rooms_except_fetch_join_leave_disconnect_acks_and_server_side_emit_work_across_nodes()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var a = await Node.StartAsync(redis);
        await using var b = await Node.StartAsync(redis);
        var (onA, sidA) = await a.ConnectAsync("blue");
        var (onB, sidB) = await b.ConnectAsync("blue", "vip");
        var (onB2, sidB2) = await b.ConnectAsync("blue");
        using (onA)
        using (onB)
        using (onB2)
        {
            // A room broadcast from A, except a room that lives on B.
            a.Io.To("blue").Except("vip").Emit("news", 1);
            Assert.Equal("42[\"news\",1]", await onA.NextTextAsync());
            Assert.Equal("42[\"news\",1]", await onB2.NextTextAsync());
            // onB was excepted: the next thing it gets is this sentinel.
            a.Io.To(sidB).Emit("sentinel");
            Assert.Equal("42[\"sentinel\"]", await onB.NextTextAsync());

            var all = await a.Io.In("blue").FetchSocketsAsync();
            Assert.Equal(new[] { sidA, sidB, sidB2 }.Order(), all.Select(s => s.Id).Order());
            Assert.Contains("vip", all.Single(s => s.Id == sidB).Rooms);

            // A join requested on A, applied on B: confirmed by a fetch (same request channel, so ordered after it).
            await a.Io.In(sidB2).SocketsJoinAsync("green");
            Assert.Equal([sidB2], (await a.Io.In("green").FetchSocketsAsync()).Select(s => s.Id));
            a.Io.To("green").Emit("ping-green");
            Assert.Equal("42[\"ping-green\"]", await onB2.NextTextAsync());
            await a.Io.In(sidB2).SocketsLeaveAsync("green");
            Assert.Empty(await a.Io.In("green").FetchSocketsAsync());

            // Acks from clients on both nodes.
            var pending = a.Io.Timeout(TimeSpan.FromSeconds(5)).EmitWithAckAsync("poll");
            foreach (var (client, answer) in new[] { (onA, "a"), (onB, "b"), (onB2, "b2") })
            {
                var question = await client.NextTextAsync();
                Assert.Contains("\"poll\"", question);
                var id = question[2..question.IndexOf('[')];
                await client.SendAsync($"43{id}[\"{answer}\"]");
            }
            var responses = await pending;
            Assert.Equal(["a", "b", "b2"], responses.Select(r => r.Get<string>(0)).Order());

            // Server-side events reach the other node's handler.
            await a.Io.ServerSideEmitAsync("hello", new { from = "a" });
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            Assert.Equal("{\"from\":\"a\"}", await b.ServerSide.Reader.ReadAsync(cts.Token));

            await a.Io.In(sidB).DisconnectSocketsAsync();
            Assert.Equal("41", await onB.NextTextAsync());
        }
    }
}
