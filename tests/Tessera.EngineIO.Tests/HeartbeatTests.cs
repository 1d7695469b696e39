using System.Diagnostics;
using System.Net;
using System.Net.WebSockets;
using System.Text.Json;

namespace Tessera.EngineIO.Tests;

public class HeartbeatTests
{
    // A client answer (or a polling GET) later than pingInterval + pingTimeout finds the session timed out, as the
    // public suite wants: the timeout leaves a loaded test machine room to send it (200 ms was seen to be too short).
    private static Task<TestServer> FastHeartbeatServer() => TestServer.StartAsync(o =>
    {
        o.PingInterval = TimeSpan.FromMilliseconds(300);
        o.PingTimeout = TimeSpan.FromMilliseconds(1000);
    });

    [Fact]
    public async Task Client_that_answers_pings_stays_connected_over_websocket()
    {
        await using var server = await FastHeartbeatServer();
        using var ws = await server.ConnectWebSocketAsync("EIO=4&transport=websocket");
        await ws.ReceiveTextAsync();
        // Five ping/pong rounds: well past pingInterval + pingTimeout.
        for (var i = 0; i < 5; i++)
        {
            Assert.Equal("2", await ws.ReceiveTextAsync());
            await ws.SendTextAsync("3");
        }
        await ws.SendTextAsync("4alive");
        Assert.Equal("4alive", await ws.ReceiveTextSkippingPingsAsync());
    }

    [Fact]
    public async Task Silent_websocket_client_is_closed_with_ping_timeout()
    {
        await using var server = await FastHeartbeatServer();
        using var ws = await server.ConnectWebSocketAsync("EIO=4&transport=websocket");
        var open = await ws.ReceiveTextAsync();
        var sid = JsonDocument.Parse(open[1..]).RootElement.GetProperty("sid").GetString()!;
        var started = Stopwatch.StartNew();
        Assert.Equal("2", await ws.ReceiveTextAsync());
        // No pong: the server gives up after pingTimeout and closes the WebSocket.
        Assert.Equal("ping timeout", await server.Handler.WaitClosedAsync(sid));
        Assert.True(started.Elapsed < TimeSpan.FromSeconds(5), $"closed only after {started.Elapsed}");
        var (type, _) = await ws.ReceiveMessageAsync();
        Assert.Equal(WebSocketMessageType.Close, type);
        await server.AssertServesNewClientAsync();
    }

    [Fact]
    public async Task Silent_polling_client_is_closed_with_ping_timeout()
    {
        await using var server = await FastHeartbeatServer();
        var (sid, _) = await server.HandshakeAsync();
        Assert.Equal("2", (await server.GetAsync(sid)).Body);
        Assert.Equal("ping timeout", await server.Handler.WaitClosedAsync(sid));
        Assert.Equal(HttpStatusCode.BadRequest, (await server.GetAsync(sid)).Status);
    }

    [Fact]
    public async Task Polling_client_that_answers_pings_stays_connected()
    {
        await using var server = await FastHeartbeatServer();
        var (sid, _) = await server.HandshakeAsync();
        for (var i = 0; i < 4; i++)
        {
            Assert.Equal("2", (await server.GetAsync(sid)).Body);
            Assert.Equal(HttpStatusCode.OK, (await server.PostAsync(sid, "3")).Status);
        }
        Assert.Equal(HttpStatusCode.OK, (await server.PostAsync(sid, "4ok")).Status);
        Assert.Equal("4ok", (await server.GetAsync(sid)).Body);
    }

    [Fact]
    public async Task Ping_from_a_v4_client_is_a_protocol_error()
    {
        await using var server = await TestServer.StartAsync();
        var (sid, _) = await server.HandshakeAsync();
        await server.PostAsync(sid, "2");
        Assert.Equal("transport error", await server.Handler.WaitClosedAsync(sid));
    }
}
