using System.Globalization;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;
using Tessera.SocketIO;

namespace Tessera.Redis.Tests;

/// <summary>
/// The sharded adapter (SSUBSCRIBE/SPUBLISH) in one cluster with a Node node running socket.io 4.8 and
/// @socket.io/redis-adapter 8.3's createShardedAdapter, on a real redis-server 7, in each subscription mode.
/// </summary>
public class ShardedAdapterTests
{
    private static Task<TesseraNode> StartAsync(RedisServer redis, RedisSubscriptionMode mode) =>
        TesseraNode.StartAsync(redis, o =>
        {
            o.Sharded = true;
            o.SubscriptionMode = mode;
        }, io =>
        {
            io.OnServerSideEmit("hello", e =>
            {
                io.Local.Emit("heard", e.Args[0]);
                return ValueTask.CompletedTask;
            });
            io.OnConnection(socket =>
            {
                // The adapter's task ends once the room's channel is subscribed: answer after it.
                socket.On<string>("join", async (room, e) =>
                {
                    await e.Socket.Namespace.Adapter.AddAllAsync(e.Socket.Id, [room!]);
                    e.Ack(true);
                });
                socket.On<Command>("emit", (c, e) =>
                {
                    if (c!.Room is { } room)
                    {
                        io.To(room).Emit(c.Event, c.Data);
                    }
                    else
                    {
                        io.Emit(c.Event, c.Data);
                    }
                    e.Ack(true);
                });
                socket.On<string>("fetch", async (room, e) => e.Ack((object)(await io.In(room!).FetchSocketsAsync()).Select(s => s.Id).ToArray()));
                socket.On<Command>("leave", async (c, e) =>
                {
                    await io.In(c!.Target!).SocketsLeaveAsync(c.Room!);
                    e.Ack(true);
                });
                socket.On<string>("disconnect-remote", async (target, e) =>
                {
                    await io.In(target!).DisconnectSocketsAsync();
                    e.Ack(true);
                });
                socket.On<System.Text.Json.JsonElement>("sse", async (arg, e) =>
                {
                    await io.ServerSideEmitAsync("hello", arg);
                    e.Ack(true);
                });
                socket.On("poll-all", async e =>
                {
                    var answers = await io.Timeout(TimeSpan.FromSeconds(5)).EmitWithAckAsync("poll");
                    e.Ack((object)answers.Select(a => a.Get<string>(0)).ToArray());
                });
            });
        });

    private sealed record Command(string Event = "", string? Room = null, string? Target = null, System.Text.Json.JsonElement? Data = null);

    [Theory]
    [InlineData(RedisSubscriptionMode.Dynamic, "dynamic")]
    [InlineData(RedisSubscriptionMode.Static, "static")]
    [InlineData(RedisSubscriptionMode.DynamicPrivate, "dynamic-private")]
    public async Task Broadcasts_rooms_fetch_join_leave_disconnect_server_side_emit_and_acks_work_with_Node_nodes(RedisSubscriptionMode mode, string nodeMode)
    {
        await using var redis = await RedisServer.StartAsync();
        await using var tessera = await StartAsync(redis, mode);
        Assert.True(tessera.Io.Sockets.Adapter.ReachesOtherNodes);
        var summary = await NodeInterop.RunAsync("redis-node-sharded.mjs", redis.Port.ToString(CultureInfo.InvariantCulture), tessera.BaseUrl, nodeMode);
        Assert.True(summary.GetProperty("ok").GetBoolean(), summary.ToString());
        Assert.Equal(7, summary.GetProperty("steps").GetArrayLength());
    }

    /// <summary>
    /// In the dynamic modes a room's channel is subscribed while a local socket is in the room and left when the
    /// last one leaves (SHARDNUMSUB counts this node's subscription).
    /// </summary>
    [Fact]
    public async Task A_room_channel_is_subscribed_while_the_room_has_a_local_socket()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var tessera = await StartAsync(redis, RedisSubscriptionMode.Dynamic);
        await using var connection = await ConnectionMultiplexer.ConnectAsync(redis.Configuration);
        async Task<long> SubscribersAsync(string channel) =>
            (long)((RedisResult[])(await connection.GetDatabase().ExecuteAsync("PUBSUB", "SHARDNUMSUB", channel))!)[1];
        var adapter = tessera.Io.Sockets.Adapter;
        await adapter.AddAllAsync("socket-one-twenty-ch", ["socket-one-twenty-ch", "red"]);
        await adapter.AddAllAsync("socket-two-twenty-ch", ["socket-two-twenty-ch", "red"]);
        Assert.Equal(1, await SubscribersAsync("socket.io#/#red#"));
        // A socket's own room has no channel in dynamic mode.
        Assert.Equal(0, await SubscribersAsync("socket.io#/#socket-one-twenty-ch#"));
        await adapter.DelAsync("socket-one-twenty-ch", "red");
        Assert.Equal(1, await SubscribersAsync("socket.io#/#red#"));
        await adapter.DelAllAsync("socket-two-twenty-ch");
        Assert.Equal(0, await SubscribersAsync("socket.io#/#red#"));
    }

    /// <summary>Malformed messages on the sharded channels (main, response, a room's) are logged at Debug and ignored; the node keeps working.</summary>
    [Theory]
    [InlineData("socket.io#/#", new byte[] { 0x93, 0xc6, 0x86, 0x00, 0xfa, 0xc5, 0xc6 }, "MessagePackSerializationException")]
    [InlineData("socket.io#/#", new byte[] { 0x83, 0xa4, (byte)'t', (byte)'y', (byte)'p', (byte)'e' }, "EndOfStreamException")]
    [InlineData("socket.io#/#", new byte[] { (byte)'{', (byte)'"', (byte)'u' }, "JsonReaderException")]
    [InlineData("socket.io#/#red#", new byte[] { (byte)'{', (byte)'"', (byte)'u' }, "JsonReaderException")]
    [InlineData("response", new byte[] { 0x82, 0xa4, (byte)'t', (byte)'y' }, "EndOfStreamException")]
    public async Task Malformed_messages_on_sharded_channels_are_logged_and_ignored(string channel, byte[] message, string error)
    {
        await using var redis = await RedisServer.StartAsync();
        var logs = new LogCapture();
        var (app, _) = await LoopbackApp.StartAsync(
            builder => builder.Services.AddSocketIO().AddRedisAdapter(o =>
            {
                o.Configuration = redis.Configuration;
                o.Sharded = true;
            }),
            app => app.MapSocketIO(),
            logs: logs);
        await using var stopApp = app;
        var adapter = app.Services.GetRequiredService<SocketIOServer>().Sockets.Adapter;
        await adapter.AddAllAsync("socket-one-twenty-ch", ["socket-one-twenty-ch", "red"]);
        await using var publisher = await ConnectionMultiplexer.ConnectAsync(redis.Configuration);
        var subscriber = publisher.GetSubscriber();
        if (channel == "response")
        {
            // The node's own channel, socket.io#/#<uid>#: the one that is neither the main channel nor a room's.
            var channels = (RedisResult[])(await publisher.GetDatabase().ExecuteAsync("PUBSUB", "SHARDCHANNELS", "socket.io#/#*"))!;
            channel = channels.Select(c => c.ToString()).Single(c => c != "socket.io#/#" && c != "socket.io#/#red#");
        }
        Assert.Equal(1, await subscriber.PublishAsync(RedisChannel.Sharded(channel), message));
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!logs.Entries.Any(e => e.Message.Contains("Ignoring a malformed message", StringComparison.Ordinal) && e.Message.Contains(error, StringComparison.Ordinal)))
        {
            Assert.True(DateTime.UtcNow < deadline, "no malformed-message log; logged: " + string.Join(" | ", logs.Entries.Select(e => e.Message)));
            await Task.Delay(50);
        }
        Assert.DoesNotContain(logs.Entries, e => e.Level >= LogLevel.Warning && e.Category.StartsWith("Tessera", StringComparison.Ordinal));
        // Still serving: a fetch answers (alone: nothing but this node).
        Assert.Empty(await adapter.FetchSocketsAsync(new BroadcastOptions()));
    }
}
