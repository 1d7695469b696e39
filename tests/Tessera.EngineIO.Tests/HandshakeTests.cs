using System.Net;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;

namespace Tessera.EngineIO.Tests;

public class HandshakeTests
{
    [Fact]
    public async Task Polling_handshake_sends_the_open_packet_with_exactly_the_v4_fields()
    {
        await using var server = await TestServer.StartAsync();
        using var response = await server.Http.GetAsync(server.Url("EIO=4&transport=polling"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/plain; charset=UTF-8", response.Content.Headers.ContentType!.ToString());
        var body = await response.Content.ReadAsStringAsync();
        Assert.Equal('0', body[0]);
        var open = JsonDocument.Parse(body[1..]).RootElement;
        Assert.Equal(["sid", "upgrades", "pingInterval", "pingTimeout", "maxPayload"], open.EnumerateObject().Select(p => p.Name));
        Assert.Equal(20, open.GetProperty("sid").GetString()!.Length);
        Assert.Equal("[\"websocket\"]", open.GetProperty("upgrades").GetRawText());
        Assert.Equal(25000, open.GetProperty("pingInterval").GetInt32());
        Assert.Equal(20000, open.GetProperty("pingTimeout").GetInt32());
        Assert.Equal(1000000, open.GetProperty("maxPayload").GetInt32());
    }

    [Fact]
    public async Task Configured_timings_and_payload_limit_are_announced()
    {
        await using var server = await TestServer.StartAsync(o =>
        {
            o.PingInterval = TimeSpan.FromMilliseconds(1234);
            o.PingTimeout = TimeSpan.FromMilliseconds(567);
            o.MaxPayload = 4096;
        });
        var (_, open) = await server.HandshakeAsync();
        Assert.Equal(1234, open.GetProperty("pingInterval").GetInt32());
        Assert.Equal(567, open.GetProperty("pingTimeout").GetInt32());
        Assert.Equal(4096, open.GetProperty("maxPayload").GetInt32());
    }

    [Fact]
    public async Task Session_ids_are_unique_and_url_safe()
    {
        await using var server = await TestServer.StartAsync();
        var ids = new HashSet<string>();
        for (var i = 0; i < 50; i++)
        {
            var (sid, _) = await server.HandshakeAsync();
            Assert.Matches("^[A-Za-z0-9_-]{20}$", sid);
            Assert.True(ids.Add(sid));
        }
    }

    [Fact]
    public async Task WebSocket_can_be_opened_directly_and_announces_no_upgrades()
    {
        await using var server = await TestServer.StartAsync();
        using var ws = await server.ConnectWebSocketAsync("EIO=4&transport=websocket");
        var open = await ws.ReceiveTextAsync();
        Assert.StartsWith("0{\"sid\":\"", open);
        var json = JsonDocument.Parse(open[1..]).RootElement;
        Assert.Equal("[]", json.GetProperty("upgrades").GetRawText());
        var opened = await server.Handler.Opened.Reader.ReadAsync();
        Assert.Equal(json.GetProperty("sid").GetString(), opened.Id);
        Assert.Equal("websocket", opened.Transport);

        await ws.SendTextAsync("4héllo");
        Assert.Equal("4héllo", await ws.ReceiveTextAsync());
        var binary = new byte[] { 0, 1, 2, 255 };
        await ws.SendAsync(binary, WebSocketMessageType.Binary, true, CancellationToken.None);
        var (type, data) = await ws.ReceiveMessageAsync();
        Assert.Equal(WebSocketMessageType.Binary, type);
        Assert.Equal(binary, data);
    }

    [Fact]
    public async Task Handshake_copies_request_details_without_keeping_the_request()
    {
        await using var server = await TestServer.StartAsync();
        using var request = new HttpRequestMessage(HttpMethod.Get, server.Url("EIO=4&transport=polling&room=blue"));
        request.Headers.Add("X-Custom", "abc");
        using var response = await server.Http.SendAsync(request);
        var socket = await server.Handler.Opened.Reader.ReadAsync();
        Assert.Equal("abc", socket.Handshake.Headers["x-custom"].ToString());
        Assert.Equal("blue", socket.Handshake.Query["room"].ToString());
        Assert.Equal(IPAddress.Loopback, socket.Handshake.RemoteAddress);
        Assert.Equal("/engine.io/", socket.Handshake.Path);
        Assert.False(socket.Handshake.IsSecure);
    }

    [Fact]
    public async Task Text_is_utf8_both_ways_over_polling()
    {
        await using var server = await TestServer.StartAsync();
        var (sid, _) = await server.HandshakeAsync();
        var text = "4€ — 日本語 🚀";
        Assert.Equal(HttpStatusCode.OK, (await server.PostAsync(sid, text)).Status);
        var poll = await server.GetAsync(sid);
        Assert.Equal(text, poll.Body);
        Assert.Equal(Encoding.UTF8.GetByteCount(text), Encoding.UTF8.GetByteCount(poll.Body));
    }
}
