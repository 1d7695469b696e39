using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace Tessera.Server.Tests;

/// <summary>The demo chat and the operator's view (metrics) of the real server binary.</summary>
[Collection("Browser")]
public class DemoTests
{
    [Fact]
    public async Task Chat_rooms_messages_presence_and_refusals_follow_the_contract()
    {
        await using var server = await ServerProcess.StartAsync();
        var (aliceId, aliceToken) = await ServerClients.SignUpAsync(server, "alice");
        var (bobId, bobToken) = await ServerClients.SignUpAsync(server, "bob");
        using var alice = await ServerClients.ConnectAsync(server, aliceToken);
        using var bob = await ServerClients.ConnectAsync(server, bobToken);

        await alice.SendAsync("421[\"chat:join\",{\"room\":\"lobby\"}]");
        Assert.Equal($"431[{{\"ok\":true,\"members\":[{{\"sub\":\"{aliceId}\",\"name\":\"alice\"}}]}}]", await alice.NextTextAsync());
        await bob.SendAsync("421[\"chat:join\",{\"room\":\"lobby\"}]");
        var joined = await bob.NextTextAsync();
        Assert.Contains($"{{\"sub\":\"{aliceId}\",\"name\":\"alice\"}}", joined);
        Assert.Contains($"{{\"sub\":\"{bobId}\",\"name\":\"bob\"}}", joined);
        Assert.Equal($"42[\"presence\",{{\"room\":\"lobby\",\"joined\":{{\"sub\":\"{bobId}\",\"name\":\"bob\"}}}}]", await alice.NextTextAsync());

        // The name comes from the token: a client-supplied "from" is ignored.
        await bob.SendAsync("422[\"chat:message\",{\"room\":\"lobby\",\"text\":\"hi\",\"from\":{\"name\":\"mallory\"}}]");
        foreach (var client in new[] { alice, bob })
        {
            // The handler emits to the room before it acks, and one socket's packets keep their order.
            var message = await client.NextTextAsync();
            var body = JsonDocument.Parse(message[2..]).RootElement[1];
            Assert.Equal("lobby", body.GetProperty("room").GetString());
            Assert.Equal("bob", body.GetProperty("from").GetProperty("name").GetString());
            Assert.Equal(bobId, body.GetProperty("from").GetProperty("sub").GetString());
            Assert.Equal("hi", body.GetProperty("text").GetString());
            Assert.True(body.GetProperty("at").GetInt64() > 1_700_000_000_000);
        }
        Assert.Equal("432[{\"ok\":true}]", await bob.NextTextAsync());

        await bob.SendAsync("423[\"chat:message\",{\"room\":\"elsewhere\",\"text\":\"x\"}]");
        Assert.Equal("433[{\"ok\":false,\"code\":\"not_member\"}]", await bob.NextTextAsync());
        await bob.SendAsync($"424[\"chat:message\",{{\"room\":\"lobby\",\"text\":\"{new string('x', 4001)}\"}}]");
        Assert.Equal("434[{\"ok\":false,\"code\":\"text_too_long\"}]", await bob.NextTextAsync());
        await bob.SendAsync($"425[\"chat:join\",{{\"room\":\"{new string('r', 65)}\"}}]");
        Assert.Equal("435[{\"ok\":false,\"code\":\"invalid_room\"}]", await bob.NextTextAsync());
        await bob.SendAsync("426[\"chat:join\",{\"room\":\"\"}]");
        Assert.Equal("436[{\"ok\":false,\"code\":\"invalid_room\"}]", await bob.NextTextAsync());

        // Disconnecting counts as leaving.
        bob.WebSocket.Abort();
        Assert.Equal($"42[\"presence\",{{\"room\":\"lobby\",\"left\":{{\"sub\":\"{bobId}\",\"name\":\"bob\"}}}}]", await alice.NextTextAsync());
    }

    [Fact]
    public async Task Metrics_expose_sockets_handshakes_logins_and_traffic()
    {
        await using var server = await ServerProcess.StartAsync();
        var (_, token) = await ServerClients.SignUpAsync(server, "metered");
        using var client = await ServerClients.ConnectAsync(server, token);
        using var refused = await RawClient.ConnectAsync(server.BaseUrl);
        await refused.SendAsync("40{\"token\":\"bad\"}");
        Assert.Contains("token_invalid", await refused.NextTextAsync());
        await client.SendAsync("421[\"whoami\"]");
        Assert.StartsWith("431[", await client.NextTextAsync());

        var metrics = await server.Http.GetStringAsync("/metrics");
        Assert.Contains("tessera_socketio_sockets_connected{namespace=\"/\"} 1", metrics);
        Assert.Contains("tessera_auth_handshakes_total{code=\"ok\",result=\"accepted\"} 1", metrics);
        Assert.Contains("tessera_auth_handshakes_total{code=\"token_invalid\",result=\"refused\"} 1", metrics);
        Assert.Contains("tessera_auth_logins_total{result=\"ok\"} 1", metrics);
        Assert.Contains("# TYPE tessera_auth_refreshes_total counter", metrics);
        Assert.Contains("# TYPE tessera_auth_revocations_total counter", metrics);
        foreach (var name in new[] { "tessera_engineio_messages_in_total", "tessera_engineio_messages_out_total", "tessera_engineio_bytes_in_total", "tessera_engineio_bytes_out_total" })
        {
            var line = metrics.Split('\n').Single(l => l.StartsWith(name + " ", StringComparison.Ordinal));
            Assert.True(double.Parse(line[(name.Length + 1)..], System.Globalization.CultureInfo.InvariantCulture) > 0, line);
        }
        Assert.DoesNotContain(token, server.Output);
    }

    [Fact]
    public async Task Tokens_in_the_query_string_and_passwords_never_reach_the_logs()
    {
        await using var server = await ServerProcess.StartAsync(extra: ["--Logging:LogLevel:Default=Debug"]);
        var (_, token) = await ServerClients.SignUpAsync(server, "quiet");
        using var client = await RawClient.ConnectAsync(server.BaseUrl, "&token=" + token);
        await client.SendAsync("40");
        Assert.StartsWith("40{", await client.NextTextAsync());
        using var wrong = await server.PostJsonAsync("/auth/login", new { username = "quiet", password = "wrong-password-123" });
        Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        using var health = await server.Http.GetAsync("/healthz");
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        var output = server.Output;
        Assert.Contains("Tessera listening on", output);
        Assert.DoesNotContain(token, output);
        Assert.DoesNotContain(token[..40], output);
        Assert.DoesNotContain(ServerClients.Password, output);
        Assert.DoesNotContain("wrong-password-123", output);
    }

    [Fact]
    public async Task Demo_page_and_the_official_browser_bundle_are_served()
    {
        await using var server = await ServerProcess.StartAsync();
        var page = await server.Http.GetStringAsync("/");
        Assert.Contains("<script src=\"/socket.io/socket.io.min.js\"></script>", page);
        using var bundle = await server.Http.GetAsync("/socket.io/socket.io.min.js");
        Assert.Equal(HttpStatusCode.OK, bundle.StatusCode);
        Assert.Equal("application/javascript", bundle.Content.Headers.ContentType!.MediaType);
        Assert.Contains("Socket.IO v4.8.", await bundle.Content.ReadAsStringAsync());
        Assert.Contains("data directory", server.Output);
        Assert.Contains("users add", server.Output);
    }

    // CONTRACT §4: the page is served with a CSP that allows no inline script, nosniff, frame-ancestors 'none' and
    // Referrer-Policy no-referrer (review finding 11); the page's own script is a file of this origin.
    [Fact]
    public async Task Demo_page_is_served_with_security_headers_and_no_inline_script()
    {
        await using var server = await ServerProcess.StartAsync();
        foreach (var path in new[] { "/", "/app.js", "/tessera-client/index.js", "/favicon.svg", "/socket.io/socket.io.min.js" })
        {
            using var response = await server.Http.GetAsync(path);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var csp = string.Join(";", response.Headers.GetValues("Content-Security-Policy"));
            var scriptSrc = csp.Split(';').Select(d => d.Trim()).Single(d => d.StartsWith("script-src ", StringComparison.Ordinal));
            Assert.Equal("script-src 'self'", scriptSrc);
            Assert.Contains("frame-ancestors 'none'", csp);
            Assert.Equal("nosniff", response.Headers.GetValues("X-Content-Type-Options").Single());
            Assert.Equal("no-referrer", response.Headers.GetValues("Referrer-Policy").Single());
        }
        var page = await server.Http.GetStringAsync("/");
        // Every script element has a src: nothing inline for the CSP to refuse.
        Assert.DoesNotMatch(new System.Text.RegularExpressions.Regex("<script(?![^>]*\\bsrc=)[^>]*>"), page);
        Assert.Contains("<script type=\"module\" src=\"/app.js\"></script>", page);
        // The page's script is built on the tessera-client package (clients/js), served from this origin, which
        // refreshes in-band (auth:refresh) and resumes the session from the refresh cookie.
        var script = await server.Http.GetStringAsync("/app.js");
        Assert.Contains("from \"/tessera-client/index.js\"", script);
        Assert.Contains("client.resume()", script);
        using var module = await server.Http.GetAsync("/tessera-client/index.js");
        Assert.Equal("application/javascript", module.Content.Headers.ContentType!.MediaType);
        var client = await module.Content.ReadAsStringAsync();
        Assert.Contains("export class TesseraClient", client);
        Assert.Contains("auth:refresh", client);
        // No bare import for the browser to fail on: the module loads as it is.
        Assert.DoesNotMatch(new System.Text.RegularExpressions.Regex("^\\s*import\\b[^;]*from\\s*[\"'][^./]", System.Text.RegularExpressions.RegexOptions.Multiline), client);
    }

    [Fact]
    public async Task Two_users_chat_in_chromium_across_token_refreshes_and_logout_disconnects_one()
    {
        await using var server = await ServerProcess.StartAsync(extra:
        [
            "--Tessera:Auth:AccessTokenLifetime=00:00:05",
            "--Tessera:Auth:ExpiryWarning=00:00:02",
            "--Tessera:Auth:ClockSkew=00:00:00",
        ]);
        var shots = Path.Combine(Path.GetDirectoryName(NodeInterop.InteropDirectory)!, "..", "TestResults", "screenshots", DateTime.UtcNow.ToString("yyyyMMdd-HHmmss", System.Globalization.CultureInfo.InvariantCulture));
        var summary = await NodeInterop.RunAsync("browser.mjs", server.BaseUrl, Path.GetFullPath(shots));
        Assert.True(summary.GetProperty("ok").GetBoolean());
        Assert.True(summary.GetProperty("refreshes").GetProperty("alice").GetInt32() >= 3);
        Assert.Equal(6, summary.GetProperty("screenshots").GetArrayLength());
    }
}
