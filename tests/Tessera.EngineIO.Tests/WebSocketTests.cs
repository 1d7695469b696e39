using System.Net.WebSockets;
using System.Text.Json;

namespace Tessera.EngineIO.Tests;

/// <summary>WebSocket sessions over the direct connection path (see <see cref="ManagedWebSocketTests"/> for the other).</summary>
public class WebSocketTests
{
    /// <summary>Whether the server answers WebSocket handshakes on Kestrel's connection level.</summary>
    protected virtual bool DirectWebSockets => true;

    private Task<TestServer> StartServerAsync(Action<EngineIOOptions>? configure = null) =>
        TestServer.StartAsync(configure, DirectWebSockets);

    private static async Task<(ClientWebSocket Ws, string Sid)> OpenAsync(TestServer server)
    {
        var ws = await server.ConnectWebSocketAsync("EIO=4&transport=websocket");
        var open = await ws.ReceiveTextAsync();
        return (ws, JsonDocument.Parse(open[1..]).RootElement.GetProperty("sid").GetString()!);
    }

    [Fact]
    public async Task Message_over_max_payload_closes_with_1009()
    {
        await using var server = await StartServerAsync(o => o.MaxPayload = 1000);
        var (ws, sid) = await OpenAsync(server);
        using (ws)
        {
            await ws.SendTextAsync("4" + new string('x', 5000));
            var (type, _) = await ws.ReceiveMessageAsync();
            Assert.Equal(WebSocketMessageType.Close, type);
            Assert.Equal(WebSocketCloseStatus.MessageTooBig, ws.CloseStatus);
            Assert.Equal("transport error", await server.Handler.WaitClosedAsync(sid));
        }
        await server.AssertServesNewClientAsync();
    }

    [Fact]
    public async Task Message_at_max_payload_and_fragmented_messages_are_reassembled()
    {
        await using var server = await StartServerAsync(o => o.MaxPayload = 20_000);
        var (ws, _) = await OpenAsync(server);
        using (ws)
        {
            var text = "4" + new string('y', 19_999);
            await ws.SendTextAsync(text);
            Assert.Equal(text, await ws.ReceiveTextAsync());

            var part1 = System.Text.Encoding.UTF8.GetBytes("4frag");
            var part2 = System.Text.Encoding.UTF8.GetBytes("mented");
            await ws.SendAsync(part1, WebSocketMessageType.Text, false, CancellationToken.None);
            await ws.SendAsync(part2, WebSocketMessageType.Text, true, CancellationToken.None);
            Assert.Equal("4fragmented", await ws.ReceiveTextAsync());
        }
    }

    [Theory]
    [InlineData("x")]
    [InlineData("")]
    [InlineData("8")]
    public async Task Malformed_text_frame_closes_with_parse_error(string frame)
    {
        await using var server = await StartServerAsync();
        var (ws, sid) = await OpenAsync(server);
        using (ws)
        {
            await ws.SendTextAsync(frame);
            Assert.Equal("parse error", await server.Handler.WaitClosedAsync(sid));
            var (type, _) = await ws.ReceiveMessageAsync();
            Assert.Equal(WebSocketMessageType.Close, type);
        }
        await server.AssertServesNewClientAsync();
    }

    [Fact]
    public async Task Client_close_packet_ends_the_session()
    {
        await using var server = await StartServerAsync();
        var (ws, sid) = await OpenAsync(server);
        using (ws)
        {
            await ws.SendTextAsync("1");
            Assert.Equal("transport close", await server.Handler.WaitClosedAsync(sid));
            var (type, _) = await ws.ReceiveMessageAsync();
            Assert.Equal(WebSocketMessageType.Close, type);
        }
    }

    [Fact]
    public async Task A_client_closing_the_websocket_gets_the_close_handshake_completed()
    {
        await using var server = await StartServerAsync();
        var (ws, sid) = await OpenAsync(server);
        using (ws)
        {
            // CloseAsync sends the client's close frame and waits for the server's: a reset instead (what proxies log as an
            // error) throws here.
            await ws.CloseAsync(WebSocketCloseStatus.NormalClosure, null, new CancellationTokenSource(TimeSpan.FromSeconds(10)).Token);
            Assert.Equal(WebSocketState.Closed, ws.State);
            Assert.Equal(WebSocketCloseStatus.NormalClosure, ws.CloseStatus);
            Assert.Equal("transport close", await server.Handler.WaitClosedAsync(sid));
        }
    }

    [Fact]
    public async Task Dropped_connection_ends_the_session_with_transport_close()
    {
        await using var server = await StartServerAsync();
        var (ws, sid) = await OpenAsync(server);
        ws.Abort();
        ws.Dispose();
        Assert.Equal("transport close", await server.Handler.WaitClosedAsync(sid));
    }

    // Node's WebSocket transport never writes an Engine.IO close packet: what is queued goes out, then the close
    // frame. (Over polling the close packet `1` is the only way to say it; see PollingTests.)
    [Fact]
    public async Task Server_close_flushes_what_is_queued_then_sends_a_close_frame_and_no_close_packet()
    {
        await using var server = await StartServerAsync();
        var (ws, sid) = await OpenAsync(server);
        using (ws)
        {
            var socket = await server.Handler.Opened.Reader.ReadAsync();
            socket.Send(EngineIOOutgoingMessage.Text("bye"));
            socket.Close();
            Assert.Equal("4bye", await ws.ReceiveTextAsync());
            var (type, _) = await ws.ReceiveMessageAsync();
            Assert.Equal(WebSocketMessageType.Close, type);
            Assert.Equal(WebSocketCloseStatus.NormalClosure, ws.CloseStatus);
            Assert.Equal("forced close", await server.Handler.WaitClosedAsync(sid));
        }
    }

    [Fact]
    public async Task Server_close_of_an_idle_session_sends_only_a_close_frame()
    {
        await using var server = await StartServerAsync();
        var (ws, sid) = await OpenAsync(server);
        using (ws)
        {
            var socket = await server.Handler.Opened.Reader.ReadAsync();
            socket.Close();
            var (type, _) = await ws.ReceiveMessageAsync();
            Assert.Equal(WebSocketMessageType.Close, type);
            Assert.Equal("forced close", await server.Handler.WaitClosedAsync(sid));
        }
    }

    [Fact]
    public async Task Per_message_deflate_is_negotiated_when_enabled()
    {
        await using var server = await StartServerAsync(o => o.PerMessageDeflate = true);
        using var ws = new ClientWebSocket();
        ws.Options.DangerousDeflateOptions = new WebSocketDeflateOptions();
        ws.Options.CollectHttpResponseDetails = true;
        await ws.ConnectAsync(new Uri(server.WsUrl("EIO=4&transport=websocket")), CancellationToken.None);
        Assert.Contains("permessage-deflate", ws.HttpResponseHeaders!["Sec-WebSocket-Extensions"].Single());
        await ws.ReceiveTextAsync();
        var text = "4" + new string('z', 10_000);
        await ws.SendTextAsync(text);
        Assert.Equal(text, await ws.ReceiveTextAsync());
    }

    [Fact]
    public async Task Per_message_deflate_is_off_by_default()
    {
        await using var server = await StartServerAsync();
        using var ws = new ClientWebSocket();
        ws.Options.DangerousDeflateOptions = new WebSocketDeflateOptions();
        ws.Options.CollectHttpResponseDetails = true;
        await ws.ConnectAsync(new Uri(server.WsUrl("EIO=4&transport=websocket")), CancellationToken.None);
        Assert.False(ws.HttpResponseHeaders!.ContainsKey("Sec-WebSocket-Extensions"));
    }

    [Fact]
    public async Task Many_messages_keep_their_order()
    {
        await using var server = await StartServerAsync();
        var (ws, _) = await OpenAsync(server);
        using (ws)
        {
            var send = Task.Run(async () =>
            {
                for (var i = 0; i < 1000; i++)
                {
                    await ws.SendTextAsync("4" + i);
                }
            });
            for (var i = 0; i < 1000; i++)
            {
                Assert.Equal("4" + i, await ws.ReceiveTextAsync());
            }
            await send;
        }
    }
}

/// <summary>The same cases over ASP.NET Core's WebSocket (the path when the direct one is not enabled).</summary>
public sealed class ManagedWebSocketTests : WebSocketTests
{
    protected override bool DirectWebSockets => false;
}
