using System.Net;
using System.Text.Json;
using Tessera.EngineIO.Internal;
using Tessera.EngineIO.Internal.WebSockets;
using static Tessera.EngineIO.Tests.DirectWebSocketTests;
using RawClient = Tessera.EngineIO.Tests.DirectWebSocketTests.RawClient;

namespace Tessera.EngineIO.Tests;

/// <summary>
/// EngineIOOptions.MaxConnectionsPerAddress: sessions open at once per client address, on every handshake path,
/// over it HTTP 429 with an Engine.IO error body; a closed session gives its slot back.
/// </summary>
public class ConnectionsPerAddressTests
{
    [Fact]
    public async Task Polling_handshakes_past_the_limit_get_429_until_a_session_closes()
    {
        await using var server = await TestServer.StartAsync(o => o.MaxConnectionsPerAddress = 3);
        var sids = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            sids.Add((await server.HandshakeAsync()).Sid);
        }

        using (var refused = await server.Http.GetAsync(server.Url("EIO=4&transport=polling")))
        {
            Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
            Assert.Equal("application/json", refused.Content.Headers.ContentType?.MediaType);
            var error = JsonDocument.Parse(await refused.Content.ReadAsStringAsync()).RootElement;
            Assert.Equal(4, error.GetProperty("code").GetInt32());
            Assert.Equal("Too many connections", error.GetProperty("message").GetString());
        }
        // The sessions already open are untouched.
        Assert.Equal(HttpStatusCode.OK, (await server.PostAsync(sids[0], "4hi")).Status);
        Assert.Equal("4hi", (await server.GetAsync(sids[0])).Body);

        // The client closes one: its slot is free again.
        Assert.Equal(HttpStatusCode.OK, (await server.PostAsync(sids[1], "1")).Status);
        Assert.Equal("transport close", await server.Handler.WaitClosedAsync(sids[1]));
        var (again, _) = await server.HandshakeAsync();
        Assert.DoesNotContain(again, sids);
        Assert.Equal(HttpStatusCode.TooManyRequests, (await server.Http.GetAsync(server.Url("EIO=4&transport=polling"))).StatusCode);
    }

    [Fact]
    public async Task Direct_websocket_handshakes_past_the_limit_get_429_until_a_session_closes()
    {
        await using var server = await TestServer.StartAsync(o => o.MaxConnectionsPerAddress = 2);
        await using var first = await RawClient.ConnectAsync(server);
        var firstSid = await first.OpenAsync();
        await using var second = await RawClient.ConnectAsync(server);
        await second.OpenAsync();

        await using (var third = await RawClient.ConnectAsync(server))
        {
            await third.WriteAsync(UpgradeRequest(third, Handshake, NewKey()));
            var head = await third.ReadHeadAsync();
            Assert.StartsWith("HTTP/1.1 429 ", head);
            var length = int.Parse(head.Split("\r\n").Single(l => l.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase))[15..].Trim());
            Assert.Equal("{\"code\":4,\"message\":\"Too many connections\"}", System.Text.Encoding.UTF8.GetString(await third.ReadBytesAsync(length)));
        }

        await first.WriteAsync(ClientFrame(WebSocketOpcode.Close, [0x03, 0xE8]));
        await first.AssertClosedWithAsync(1000);
        Assert.Equal("transport close", await server.Handler.WaitClosedAsync(firstSid));
        // A slot is free: the next handshake is answered by the direct path again.
        await using var fourth = await RawClient.ConnectAsync(server);
        await fourth.OpenAsync();
    }

    [Fact]
    public async Task Managed_websocket_handshakes_past_the_limit_get_429()
    {
        await using var server = await TestServer.StartAsync(o => o.MaxConnectionsPerAddress = 1, directWebSockets: false);
        using var first = await server.ConnectWebSocketAsync("EIO=4&transport=websocket");
        var open = await first.ReceiveTextAsync();
        var sid = JsonDocument.Parse(open[1..]).RootElement.GetProperty("sid").GetString()!;

        await using (var second = await RawClient.ConnectAsync(server))
        {
            await second.WriteAsync(UpgradeRequest(second, Handshake, NewKey()));
            Assert.StartsWith("HTTP/1.1 429 ", await second.ReadHeadAsync());
        }

        first.Abort();
        await server.Handler.WaitClosedAsync(sid);
        using var third = await server.ConnectWebSocketAsync("EIO=4&transport=websocket");
        Assert.StartsWith("0{", await third.ReceiveTextAsync());
    }

    [Fact]
    public async Task Sessions_on_every_transport_count_together_and_upgrades_take_no_slot()
    {
        await using var server = await TestServer.StartAsync(o => o.MaxConnectionsPerAddress = 2);
        var (sid, _) = await server.HandshakeAsync();
        await using var direct = await RawClient.ConnectAsync(server);
        await direct.OpenAsync();

        Assert.Equal(HttpStatusCode.TooManyRequests, (await server.Http.GetAsync(server.Url("EIO=4&transport=polling"))).StatusCode);

        // The polling session upgrades: still two sessions, and the upgrade itself is not refused.
        using var upgraded = await server.ConnectWebSocketAsync($"EIO=4&transport=websocket&sid={sid}");
        await upgraded.SendTextAsync("2probe");
        Assert.Equal("3probe", await upgraded.ReceiveTextAsync());
        await upgraded.SendTextAsync("5");
        await upgraded.SendTextAsync("4after upgrade");
        Assert.Equal("4after upgrade", await upgraded.ReceiveTextSkippingPingsAsync());
        await using var refused = await RawClient.ConnectAsync(server);
        await refused.WriteAsync(UpgradeRequest(refused, Handshake, NewKey()));
        Assert.StartsWith("HTTP/1.1 429 ", await refused.ReadHeadAsync());
    }

    [Fact]
    public async Task No_limit_by_default()
    {
        await using var server = await TestServer.StartAsync();
        for (var i = 0; i < 50; i++)
        {
            await server.HandshakeAsync();
        }
        await using var direct = await RawClient.ConnectAsync(server);
        await direct.OpenAsync();
    }

    [Fact]
    public async Task Direct_handshake_through_a_proxy_takes_the_http_path()
    {
        await using var server = await TestServer.StartAsync();
        await using var client = await RawClient.ConnectAsync(server);

        await client.WriteAsync(UpgradeRequest(client, Handshake, NewKey(), "X-Forwarded-For: 203.0.113.7\r\n"));

        var head = await client.ReadHeadAsync();
        Assert.StartsWith("HTTP/1.1 101 ", head);
        // Kestrel's HTTP stack answered (it writes a Server header; the direct path does not), so the app's
        // forwarded-headers middleware, if any, decides the client address.
        Assert.Contains("\r\nServer: Kestrel\r\n", head);
    }

    [Theory]
    [InlineData("2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:ffff", true)]
    [InlineData("2001:db8:1:2::1", "2001:db8:1:3::1", false)]
    [InlineData("127.0.0.1", "::ffff:127.0.0.1", true)]
    [InlineData("10.0.0.1", "10.0.0.2", false)]
    [InlineData("::ffff:10.0.0.1", "::", false)]
    [InlineData("::1", "::2", true)]
    public void Ipv6_addresses_count_per_64_and_ipv4_per_address(string a, string b, bool same)
    {
        var limiter = new AddressLimiter(1);
        Assert.True(limiter.TryAcquire(IPAddress.Parse(a)));
        Assert.Equal(!same, limiter.TryAcquire(IPAddress.Parse(b)));
        Assert.Equal(same, AddressLimiter.Key(IPAddress.Parse(a)) == AddressLimiter.Key(IPAddress.Parse(b)));

        limiter.Release(IPAddress.Parse(a));
        Assert.Equal(same ? 0 : 1, limiter.Count(IPAddress.Parse(b)));
        Assert.True(limiter.TryAcquire(IPAddress.Parse(a)));
    }

    [Fact]
    public void Connections_without_an_ip_address_are_not_counted()
    {
        var limiter = new AddressLimiter(1);
        Assert.True(limiter.TryAcquire(null));
        Assert.True(limiter.TryAcquire(null));
        Assert.Null(AddressLimiter.Key(null));
    }

    [Fact]
    public async Task Handshakes_past_the_rate_per_address_get_429_on_polling_and_on_the_direct_path()
    {
        // 5 a second in bursts of 10: 30 handshakes in a row take milliseconds on loopback, far less than the two
        // seconds it would need for the bucket to refill enough to admit them all.
        await using var server = await TestServer.StartAsync(o => o.MaxHandshakesPerSecondPerAddress = 5);
        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 30; i++)
        {
            using var response = await server.Http.GetAsync(server.Url("EIO=4&transport=polling"));
            statuses.Add(response.StatusCode);
            if (response.StatusCode == HttpStatusCode.TooManyRequests)
            {
                var error = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
                Assert.Equal(4, error.GetProperty("code").GetInt32());
                Assert.Equal("Too many connections", error.GetProperty("message").GetString());
            }
        }
        Assert.All(statuses.Take(10), s => Assert.Equal(HttpStatusCode.OK, s));
        Assert.Contains(HttpStatusCode.TooManyRequests, statuses);
        Assert.True(statuses.Count(s => s == HttpStatusCode.OK) < 30);

        // The direct WebSocket path counts in the same bucket: the bucket may have refilled by a second's 5 tokens
        // meanwhile, so within a few more handshakes one is refused.
        var refusedOnWebSocket = false;
        for (var i = 0; i < 20 && !refusedOnWebSocket; i++)
        {
            await using var ws = await RawClient.ConnectAsync(server);
            await ws.WriteAsync(UpgradeRequest(ws, Handshake, NewKey()));
            var head = await ws.ReadHeadAsync();
            refusedOnWebSocket = head.StartsWith("HTTP/1.1 429 ", StringComparison.Ordinal);
            Assert.True(refusedOnWebSocket || head.StartsWith("HTTP/1.1 101 ", StringComparison.Ordinal), head);
        }
        Assert.True(refusedOnWebSocket, "no WebSocket handshake was refused");
    }

    [Fact]
    public async Task As_many_sessions_as_may_be_open_at_once_can_be_opened_at_once_whatever_the_rate()
    {
        // A rate of 5 a second, but 50 sessions allowed open: the burst is 50, so 50 clients behind one address
        // connecting together all get in; the 51st is over both limits.
        await using var server = await TestServer.StartAsync(o =>
        {
            o.MaxConnectionsPerAddress = 50;
            o.MaxHandshakesPerSecondPerAddress = 5;
        });
        var opened = await Task.WhenAll(Enumerable.Range(0, 50).Select(async _ =>
        {
            using var response = await server.Http.GetAsync(server.Url("EIO=4&transport=polling"));
            return response.StatusCode;
        }));
        Assert.All(opened, s => Assert.Equal(HttpStatusCode.OK, s));
        using var refused = await server.Http.GetAsync(server.Url("EIO=4&transport=polling"));
        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
    }

    [Fact]
    public void A_handshake_rate_out_of_range_is_refused_with_a_clear_message()
    {
        Assert.Equal("EngineIOOptions: MaxHandshakesPerSecondPerAddress must be between 0 and 1,000,000 (null or 0: no limit).",
            new EngineIOOptions { MaxHandshakesPerSecondPerAddress = -1 }.Problem());
        Assert.Null(new EngineIOOptions { MaxHandshakesPerSecondPerAddress = 50 }.Problem());
    }
}
