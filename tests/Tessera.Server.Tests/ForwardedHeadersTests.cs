using System.Net;
using System.Text;
using System.Text.Json;

namespace Tessera.Server.Tests;

/// <summary>
/// CONTRACT §2: behind a reverse proxy (ASPNETCORE_FORWARDEDHEADERS_ENABLED=true, ForwardedHeaders:KnownProxies /
/// KnownNetworks) the client's address and scheme come from X-Forwarded-For / X-Forwarded-Proto — the refresh cookie
/// is Secure when the original scheme is https, and the per-address limit counts clients, not the proxy (review
/// finding 6). Headers from a peer that is not a known proxy are ignored.
/// </summary>
public class ForwardedHeadersTests
{
    private static Task<ServerProcess> StartBehindProxyAsync(string knownProxy) => ServerProcess.StartAsync(
        environment: new Dictionary<string, string>
        {
            ["ASPNETCORE_FORWARDEDHEADERS_ENABLED"] = "true",
            ["ForwardedHeaders__KnownProxies__0"] = knownProxy,
        },
        extra: ["--Tessera:Auth:LoginsPerMinutePerAddress=3"]);

    private static async Task<HttpResponseMessage> LoginAsync(ServerProcess server, string username, string forwardedFor, string forwardedProto = "https")
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/auth/login")
        {
            Content = new StringContent(JsonSerializer.Serialize(new { username, password = "correct horse battery" }), Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("X-Forwarded-For", forwardedFor);
        request.Headers.Add("X-Forwarded-Proto", forwardedProto);
        return await server.Http.SendAsync(request);
    }

    [Fact]
    public async Task Behind_a_known_proxy_the_cookie_is_secure_and_limits_count_each_forwarded_client()
    {
        await using var server = await StartBehindProxyAsync("127.0.0.1");
        using (var register = await server.PostJsonAsync("/auth/register", new { username = "carol", password = "correct horse battery" }))
        {
            Assert.Equal(HttpStatusCode.Created, register.StatusCode);
        }
        using (var login = await LoginAsync(server, "carol", "203.0.113.7"))
        {
            Assert.Equal(HttpStatusCode.OK, login.StatusCode);
            Assert.Contains("secure", login.Headers.GetValues("Set-Cookie").Single(), StringComparison.OrdinalIgnoreCase);
        }
        // The register above came from the proxy itself (127.0.0.1): it does not count against 203.0.113.7.
        for (var i = 0; i < 2; i++)
        {
            using var again = await LoginAsync(server, "carol", "203.0.113.7");
            Assert.Equal(HttpStatusCode.OK, again.StatusCode);
        }
        using (var limited = await LoginAsync(server, "carol", "203.0.113.7"))
        {
            Assert.Equal(HttpStatusCode.TooManyRequests, limited.StatusCode);
        }
        // Another client behind the same proxy is not shut out.
        using (var other = await LoginAsync(server, "carol", "198.51.100.20"))
        {
            Assert.Equal(HttpStatusCode.OK, other.StatusCode);
        }
    }

    [Fact]
    public async Task Forwarded_headers_from_an_unknown_peer_are_ignored()
    {
        await using var server = await StartBehindProxyAsync("10.1.2.3");
        using (var register = await server.PostJsonAsync("/auth/register", new { username = "dave", password = "correct horse battery" }))
        {
            Assert.Equal(HttpStatusCode.Created, register.StatusCode);
        }
        using (var login = await LoginAsync(server, "dave", "203.0.113.8"))
        {
            Assert.Equal(HttpStatusCode.OK, login.StatusCode);
            Assert.DoesNotContain("secure", login.Headers.GetValues("Set-Cookie").Single(), StringComparison.OrdinalIgnoreCase);
        }
        // Every request counts as 127.0.0.1 (register + 1 login so far; the limit is 3), whatever X-Forwarded-For says.
        using (var third = await LoginAsync(server, "dave", "198.51.100.1"))
        {
            Assert.Equal(HttpStatusCode.OK, third.StatusCode);
        }
        using (var limited = await LoginAsync(server, "dave", "198.51.100.2"))
        {
            Assert.Equal(HttpStatusCode.TooManyRequests, limited.StatusCode);
        }
    }
}
