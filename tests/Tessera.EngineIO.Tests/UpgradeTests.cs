using System.Net;
using System.Net.WebSockets;

namespace Tessera.EngineIO.Tests;

public class UpgradeTests
{
    [Fact]
    public async Task Probe_noop_and_upgrade_switch_the_session_to_websocket()
    {
        await using var server = await TestServer.StartAsync();
        var (sid, _) = await server.HandshakeAsync();
        var socket = await server.Handler.Opened.Reader.ReadAsync();
        var poll = server.GetAsync(sid);
        await server.WaitParkedAsync(sid);

        using var ws = await server.ConnectWebSocketAsync($"EIO=4&transport=websocket&sid={sid}");
        await ws.SendTextAsync("2probe");
        Assert.Equal("3probe", await ws.ReceiveTextAsync());
        // The parked GET is released with a noop so the client can pause polling.
        Assert.Equal("6", (await poll).Body);
        Assert.Equal("polling", socket.Transport);

        // A message sent while the client pauses waits for the new transport.
        socket.Send(EngineIOOutgoingMessage.Text("queued during upgrade"));
        await ws.SendTextAsync("5");
        Assert.Equal("4queued during upgrade", await ws.ReceiveTextAsync());
        Assert.Equal("websocket", socket.Transport);

        await ws.SendTextAsync("4over ws");
        Assert.Equal("4over ws", await ws.ReceiveTextAsync());

        // Polling is over for this session.
        var late = await server.GetAsync(sid);
        Assert.Equal(HttpStatusCode.BadRequest, late.Status);
        Assert.Equal("{\"code\":3,\"message\":\"Bad request\"}", late.Body);
        Assert.Equal(HttpStatusCode.BadRequest, (await server.PostAsync(sid, "4x")).Status);
    }

    [Fact]
    public async Task Get_arriving_after_the_probe_is_answered_with_noop_at_once()
    {
        await using var server = await TestServer.StartAsync();
        var (sid, _) = await server.HandshakeAsync();
        using var ws = await server.ConnectWebSocketAsync($"EIO=4&transport=websocket&sid={sid}");
        await ws.SendTextAsync("2probe");
        Assert.Equal("3probe", await ws.ReceiveTextAsync());
        Assert.Equal("6", (await server.GetAsync(sid)).Body);
        await ws.SendTextAsync("5");
        await ws.SendTextAsync("4hi");
        Assert.Equal("4hi", await ws.ReceiveTextAsync());
    }

    [Fact]
    public async Task Upgrade_that_never_completes_times_out_and_polling_carries_on()
    {
        await using var server = await TestServer.StartAsync(o => o.UpgradeTimeout = TimeSpan.FromMilliseconds(1000));
        var (sid, _) = await server.HandshakeAsync();
        using var ws = await server.ConnectWebSocketAsync($"EIO=4&transport=websocket&sid={sid}");
        await ws.SendTextAsync("2probe");
        Assert.Equal("3probe", await ws.ReceiveTextAsync());
        // No "5": the server drops the WebSocket after UpgradeTimeout.
        await Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            var (type, _) = await ws.ReceiveMessageAsync(TimeSpan.FromSeconds(5));
            if (type == WebSocketMessageType.Close)
            {
                throw new WebSocketException("closed");
            }
        });
        Assert.Equal(HttpStatusCode.OK, (await server.PostAsync(sid, "4still polling")).Status);
        Assert.Equal("4still polling", (await server.GetAsync(sid)).Body);
    }

    [Fact]
    public async Task Unexpected_packet_during_probe_drops_the_websocket_not_the_session()
    {
        await using var server = await TestServer.StartAsync();
        var (sid, _) = await server.HandshakeAsync();
        using var ws = await server.ConnectWebSocketAsync($"EIO=4&transport=websocket&sid={sid}");
        await ws.SendTextAsync("4not a probe");
        await Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            var (type, _) = await ws.ReceiveMessageAsync(TimeSpan.FromSeconds(5));
            if (type == WebSocketMessageType.Close)
            {
                throw new WebSocketException("closed");
            }
        });
        Assert.Equal(HttpStatusCode.OK, (await server.PostAsync(sid, "4fine")).Status);
        Assert.Equal("4fine", (await server.GetAsync(sid)).Body);
    }

    // Node's engine.io accepts a WebSocket for a session that cannot upgrade (already upgraded, upgrading, or on
    // WebSocket from the start) and closes it at once; the session is untouched.
    // The public engine.io-protocol suite's "ignores WebSocket connection with same sid after upgrade".
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Second_websocket_for_an_upgraded_session_is_accepted_then_closed(bool directWebSockets)
    {
        await using var server = await TestServer.StartAsync(directWebSockets: directWebSockets);
        var (sid, _) = await server.HandshakeAsync();
        using var ws = await server.ConnectWebSocketAsync($"EIO=4&transport=websocket&sid={sid}");
        await ws.SendTextAsync("2probe");
        Assert.Equal("3probe", await ws.ReceiveTextAsync());
        await ws.SendTextAsync("5");

        await AssertAcceptedThenClosedAsync(server, sid);
        await ws.SendTextAsync("4still upgraded");
        Assert.Equal("4still upgraded", await ws.ReceiveTextAsync());
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Second_websocket_while_an_upgrade_is_probing_is_accepted_then_closed(bool directWebSockets)
    {
        await using var server = await TestServer.StartAsync(directWebSockets: directWebSockets);
        var (sid, _) = await server.HandshakeAsync();
        using var ws = await server.ConnectWebSocketAsync($"EIO=4&transport=websocket&sid={sid}");
        await ws.SendTextAsync("2probe");
        Assert.Equal("3probe", await ws.ReceiveTextAsync());

        await AssertAcceptedThenClosedAsync(server, sid);
        // The first probe still completes the upgrade.
        await ws.SendTextAsync("5");
        await ws.SendTextAsync("4upgraded");
        Assert.Equal("4upgraded", await ws.ReceiveTextAsync());
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Websocket_carrying_the_sid_of_a_websocket_session_is_accepted_then_closed(bool directWebSockets)
    {
        await using var server = await TestServer.StartAsync(directWebSockets: directWebSockets);
        using var ws = await server.ConnectWebSocketAsync("EIO=4&transport=websocket");
        var open = await ws.ReceiveTextAsync();
        var sid = System.Text.Json.JsonDocument.Parse(open[1..]).RootElement.GetProperty("sid").GetString()!;

        await AssertAcceptedThenClosedAsync(server, sid);
        await ws.SendTextAsync("4first still open");
        Assert.Equal("4first still open", await ws.ReceiveTextAsync());
    }

    private static async Task AssertAcceptedThenClosedAsync(TestServer server, string sid)
    {
        using var again = new ClientWebSocket();
        again.Options.CollectHttpResponseDetails = true;
        await again.ConnectAsync(new Uri(server.WsUrl($"EIO=4&transport=websocket&sid={sid}")), CancellationToken.None);
        Assert.Equal(HttpStatusCode.SwitchingProtocols, again.HttpStatusCode);
        // Nothing but the close frame: no open packet, no Engine.IO close packet.
        var (type, _) = await again.ReceiveMessageAsync();
        Assert.Equal(WebSocketMessageType.Close, type);
        Assert.Equal(WebSocketCloseStatus.NormalClosure, again.CloseStatus);
    }
}
