using System.Globalization;
using Tessera.SocketIO;

namespace Tessera.Redis.Tests;

/// <summary>
/// Server-side events that wait for answers (Node's serverSideEmitWithAck) in a cluster of two Tessera nodes and one
/// Node node (socket.io 4.8, @socket.io/redis-adapter 8.3) on a real redis-server, over both adapters.
/// </summary>
public class ServerSideEmitWithAckTests
{
    private static Task<TesseraNode> StartAsync(RedisServer redis, bool sharded, string name, bool answersPartial) =>
        TesseraNode.StartAsync(redis, o => o.Sharded = sharded, io =>
        {
            io.OnServerSideEmit("whoami", e =>
            {
                e.Ack(new { node = name, got = e.Args[0] });
                return ValueTask.CompletedTask;
            });
            io.OnServerSideEmit("partial", e =>
            {
                if (answersPartial)
                {
                    e.Ack(new { node = name });
                }
                return ValueTask.CompletedTask;
            });
        });

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Answers_come_from_every_other_node_Tessera_and_Node_and_a_timeout_gives_those_that_came(bool sharded)
    {
        await using var redis = await RedisServer.StartAsync();
        await using var a = await StartAsync(redis, sharded, "a", answersPartial: false);
        await using var b = await StartAsync(redis, sharded, "b", answersPartial: true);

        async Task FromTesseraAsync()
        {
            var answers = await a.Io.ServerSideEmitWithAckAsync(TimeSpan.FromSeconds(10), "whoami", new { from = "a" });
            Assert.Equal(["b", "node"], answers.Select(r => r[0].GetProperty("node").GetString()).Order());
            Assert.All(answers, r => Assert.Equal("a", r[0].GetProperty("got").GetProperty("from").GetString()));

            // Node B answers "partial", the Node node never does: after the timeout, the answer that came.
            var started = System.Diagnostics.Stopwatch.StartNew();
            var timeout = await Assert.ThrowsAsync<SocketIOAckTimeoutException>(() => a.Io.ServerSideEmitWithAckAsync(TimeSpan.FromSeconds(1), "partial"));
            Assert.True(started.Elapsed >= TimeSpan.FromSeconds(0.9), $"gave up after {started.Elapsed}");
            Assert.Equal(2, timeout.Expected);
            Assert.Equal("{\"node\":\"b\"}", Assert.Single(timeout.Responses)[0].GetRawText());

            // The Node node waits for this before it exits.
            await a.Io.ServerSideEmitAsync("done");
        }

        Task? fromTessera = null;
        var summary = await NodeInterop.RunAsync("redis-node-ack.mjs", [redis.Port.ToString(CultureInfo.InvariantCulture), sharded ? "sharded" : "classic"], line =>
        {
            if (line == "ready")
            {
                fromTessera = FromTesseraAsync();
            }
            return Task.CompletedTask;
        });
        Assert.True(summary.GetProperty("ok").GetBoolean(), summary.ToString());
        Assert.NotNull(fromTessera);
        await fromTessera.WaitAsync(TimeSpan.FromSeconds(30));
    }

    [Fact]
    public async Task Alone_there_is_nobody_to_answer()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var a = await StartAsync(redis, sharded: false, "a", answersPartial: true);
        Assert.Empty(await a.Io.ServerSideEmitWithAckAsync("whoami", 1));
    }

    [Fact]
    public async Task Binary_arguments_are_refused()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var a = await StartAsync(redis, sharded: true, "a", answersPartial: true);
        await Assert.ThrowsAsync<ArgumentException>(() => a.Io.ServerSideEmitWithAckAsync("whoami", new byte[] { 1, 2 }));
    }
}
