using System.Buffers.Text;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Xunit.Abstractions;

namespace Tessera.Server.Tests;

/// <summary>
/// A real deployment on loopback (CONTRACT §2 cluster mode, §6): two server processes with separate data
/// directories that share only PostgreSQL (accounts, sessions, ES256 keys) and Redis, behind nginx configured as
/// docs/scaling.md says. nginx's default route is ip_hash-sticky with failover; <c>?pin=a</c> / <c>?pin=b</c> reach
/// one node (Engine.IO repeats the query on every request), and <c>X-Upstream</c> says which node answered.
/// The official socket.io-client drives the Socket.IO part (tests/interop/topology.mjs).
/// </summary>
public class TopologyTests(ITestOutputHelper output)
{
    private sealed record User(string Name, string Sub, string Token, string RefreshToken);

    [Fact]
    public async Task Two_nodes_behind_nginx_are_one_service_and_a_dead_node_fails_over()
    {
        var clock = Stopwatch.StartNew();
        var postgres = await PostgresServer.SharedAsync();
        var connectionString = await postgres.CreateDatabaseAsync();
        await using var redis = await RedisServer.StartAsync();
        var portA = ServerProcess.FreePort();
        var portB = ServerProcess.FreePort();
        while (portB == portA)
        {
            portB = ServerProcess.FreePort();
        }
        var environment = new Dictionary<string, string>
        {
            ["Tessera__Accounts__Store"] = "postgres",
            ["Tessera__Accounts__ConnectionString"] = connectionString,
            ["Tessera__Auth__SigningAlgorithm"] = "ES256",
            ["Tessera__Redis__Configuration"] = redis.Configuration,
            // Behind the proxy; no KnownProxies: any peer is trusted (only nginx can reach the nodes here).
            ["ASPNETCORE_FORWARDEDHEADERS_ENABLED"] = "true",
        };
        // Started together, as a deployment does: both find an empty database (schema, first signing key).
        var startA = ServerProcess.StartAsync(ServerProcess.NewDataDirectory(), portA, environment);
        var startB = ServerProcess.StartAsync(ServerProcess.NewDataDirectory(), portB, environment);
        try
        {
            await Task.WhenAll(startA, startB);
        }
        catch
        {
            foreach (var start in new[] { startA, startB }.Where(s => s.IsCompletedSuccessfully))
            {
                await (await start).DisposeAsync();
            }
            throw;
        }
        await using var a = await startA;
        await using var b = await startB;
        await using var nginx = await NginxServer.StartAsync(NginxConfig(portA, portB));
        var upstreams = new Dictionary<string, string> { ["a"] = Upstream(portA), ["b"] = Upstream(portB) };
        var nodes = new Dictionary<string, ServerProcess> { ["a"] = a, ["b"] = b };
        using var http = new HttpClient(new HttpClientHandler { UseCookies = false }) { BaseAddress = new Uri(nginx.BaseUrl), Timeout = TimeSpan.FromSeconds(10) };
        var startedIn = clock.Elapsed;

        try
        {
            // 1. One user base: each user registers through one node and logs in through the other.
            var alice = await SignUpAcrossAsync(http, upstreams, "alice", registerOn: "a", loginOn: "b");
            var bob = await SignUpAcrossAsync(http, upstreams, "bob", registerOn: "b", loginOn: "a");
            var carol = await SignUpAcrossAsync(http, upstreams, "carol", registerOn: "a", loginOn: "b");
            var dave = await SignUpAcrossAsync(http, upstreams, "dave", registerOn: "b", loginOn: "a");

            // One set of keys: both nodes publish the same JWKS, and it verifies the ES256 tokens either node issued.
            var (jwksStatusA, jwksUpstreamA, jwksA) = await SendAsync(http, HttpMethod.Get, "/.well-known/jwks.json?pin=a");
            var (jwksStatusB, jwksUpstreamB, jwksB) = await SendAsync(http, HttpMethod.Get, "/.well-known/jwks.json?pin=b");
            Assert.Equal((HttpStatusCode.OK, upstreams["a"]), (jwksStatusA, jwksUpstreamA));
            Assert.Equal((HttpStatusCode.OK, upstreams["b"]), (jwksStatusB, jwksUpstreamB));
            Assert.Equal(Keys(jwksA), Keys(jwksB));
            foreach (var user in new[] { alice, bob, carol, dave })
            {
                AssertSignedByPublishedKey(user.Token, jwksA);
            }

            // Discovery through the proxy names the proxy's address, so JwtBearer's Authority can point at it.
            var (discoveryStatus, _, discovery) = await SendAsync(http, HttpMethod.Get, "/.well-known/openid-configuration");
            Assert.Equal(HttpStatusCode.OK, discoveryStatus);
            Assert.Equal(nginx.BaseUrl + "/.well-known/jwks.json", discovery.GetProperty("jwks_uri").GetString());
            var (_, _, discovered) = await SendAsync(http, HttpMethod.Get, discovery.GetProperty("jwks_uri").GetString()!);
            Assert.Equal(Keys(jwksA), Keys(discovered));

            // The node ip_hash picks for 127.0.0.1, where every client of this test comes from.
            var (healthStatus, healthUpstream, _) = await SendAsync(http, HttpMethod.Get, "/healthz");
            Assert.Equal(HttpStatusCode.OK, healthStatus);
            Assert.Contains(healthUpstream, upstreams.Values);
            var sticky = upstreams.Single(u => u.Value == healthUpstream).Key;
            var other = sticky == "a" ? "b" : "a";

            // 2–5 with the official client; the script prints KILL when the sticky node must die mid-chat.
            var killed = TimeSpan.Zero;
            var users = JsonSerializer.Serialize(new
            {
                alice = new { name = alice.Name, sub = alice.Sub, token = alice.Token, refreshToken = alice.RefreshToken },
                bob = new { name = bob.Name, sub = bob.Sub, token = bob.Token },
                carol = new { name = carol.Name, sub = carol.Sub, token = carol.Token },
                dave = new { name = dave.Name, sub = dave.Sub, token = dave.Token },
            });
            var summary = await NodeInterop.RunAsync(
                "topology.mjs",
                [nginx.BaseUrl, redis.Port.ToString(CultureInfo.InvariantCulture), sticky, upstreams["a"], upstreams["b"]],
                line =>
                {
                    if (line == "KILL")
                    {
                        nodes[sticky].KillHard();
                        killed = clock.Elapsed;
                    }
                    return Task.CompletedTask;
                },
                new Dictionary<string, string> { ["TESSERA_TOPOLOGY"] = users });
            Assert.True(summary.GetProperty("ok").GetBoolean(), summary.GetRawText());
            Assert.NotEqual(TimeSpan.Zero, killed);
            var timings = summary.GetProperty("timings");
            foreach (var logout in new[] { "logoutAtoB", "logoutBtoA" })
            {
                var ms = timings.GetProperty(logout).GetProperty("fromRequestMs").GetInt32();
                Assert.True(ms < 1000, $"{logout}: auth:revoked {ms} ms after the logout request");
            }

            // The service stays healthy on the survivor, which the sticky route now reaches.
            var (afterStatus, afterUpstream, _) = await SendAsync(http, HttpMethod.Get, "/healthz");
            Assert.Equal(HttpStatusCode.OK, afterStatus);
            Assert.Equal(upstreams[other], afterUpstream?.Split(',')[^1].Trim());

            output.WriteLine($"started in {startedIn.TotalSeconds:F1} s, sticky node {sticky}, killed at {killed.TotalSeconds:F1} s, total {clock.Elapsed.TotalSeconds:F1} s");
            output.WriteLine(summary.GetRawText());
        }
        catch (Exception e)
        {
            throw new Xunit.Sdk.XunitException(
                $"{e.Message}\n--- node a ---\n{a.Output}\n--- node b ---\n{b.Output}\n--- nginx error log ---\n{nginx.ErrorLog}", e);
        }
    }

    private static string Upstream(int port) => "127.0.0.1:" + port.ToString(CultureInfo.InvariantCulture);

    /// <summary>
    /// docs/scaling.md's location block, with the upstream chosen by <c>?pin</c>: tessera_sticky (ip_hash over both,
    /// passing a request to the other node when one refuses or times out) unless a or b is asked for. Host is
    /// <c>$http_host</c>, not the doc's <c>$host</c>, which drops the port: the discovery document's jwks_uri is built
    /// from it, and this nginx is not on port 80.
    /// </summary>
    private static string NginxConfig(int portA, int portB) => $$"""
        map $arg_pin $tessera_upstream {
            a       tessera_a;
            b       tessera_b;
            default tessera_sticky;
        }
        upstream tessera_sticky {
            ip_hash;
            server {{Upstream(portA)}} max_fails=1 fail_timeout=30s;
            server {{Upstream(portB)}} max_fails=1 fail_timeout=30s;
        }
        upstream tessera_a {
            server {{Upstream(portA)}};
        }
        upstream tessera_b {
            server {{Upstream(portB)}};
        }
        server {
            listen 127.0.0.1:{PORT};
            location / {
                proxy_pass http://$tessera_upstream;
                proxy_http_version 1.1;
                proxy_set_header Upgrade $http_upgrade;
                proxy_set_header Connection "upgrade";
                proxy_set_header Host $http_host;
                proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
                proxy_set_header X-Forwarded-Proto $scheme;
                proxy_read_timeout 60s;
                proxy_connect_timeout 2s;
                proxy_next_upstream error timeout;
                add_header X-Upstream $upstream_addr always;
            }
        }
        """;

    private static async Task<(HttpStatusCode Status, string? Upstream, JsonElement Body)> SendAsync(HttpClient http, HttpMethod method, string path, object? body = null)
    {
        using var request = new HttpRequestMessage(method, path);
        if (body is not null)
        {
            request.Content = new StringContent(JsonSerializer.Serialize(body), Encoding.UTF8, "application/json");
        }
        using var response = await http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        var json = text.Length > 0 && response.Content.Headers.ContentType?.MediaType == "application/json"
            ? JsonDocument.Parse(text).RootElement.Clone()
            : default;
        var upstream = response.Headers.TryGetValues("X-Upstream", out var values) ? string.Join(",", values) : null;
        return (response.StatusCode, upstream, json);
    }

    private static async Task<User> SignUpAcrossAsync(HttpClient http, Dictionary<string, string> upstreams, string name, string registerOn, string loginOn)
    {
        var credentials = new { username = name, password = ServerClients.Password };
        var (registered, registeredBy, user) = await SendAsync(http, HttpMethod.Post, "/auth/register?pin=" + registerOn, credentials);
        Assert.Equal((HttpStatusCode.Created, upstreams[registerOn]), (registered, registeredBy));
        var (loggedIn, loggedInBy, tokens) = await SendAsync(http, HttpMethod.Post, "/auth/login?pin=" + loginOn, credentials);
        Assert.Equal((HttpStatusCode.OK, upstreams[loginOn]), (loggedIn, loggedInBy));
        var token = tokens.GetProperty("token").GetString()!;
        var header = JsonDocument.Parse(Base64Url.DecodeFromChars(token.Split('.')[0])).RootElement;
        Assert.Equal("ES256", header.GetProperty("alg").GetString());
        Assert.Equal("at+jwt", header.GetProperty("typ").GetString());
        Assert.False(string.IsNullOrEmpty(header.GetProperty("kid").GetString()));
        return new User(name, user.GetProperty("id").GetString()!, token, tokens.GetProperty("refreshToken").GetString()!);
    }

    /// <summary>Each published key as "kid alg kty crv x y use", sorted: two JWKS publish the same keys iff these match.</summary>
    private static List<string> Keys(JsonElement jwks) =>
        [.. jwks.GetProperty("keys").EnumerateArray()
            .Select(k => string.Join(' ', new[] { "kid", "alg", "kty", "crv", "x", "y", "use" }.Select(p => k.TryGetProperty(p, out var v) ? v.GetString() : "-")))
            .Order(StringComparer.Ordinal)];

    /// <summary>What any verifier does with the JWKS: find the token's kid, check the ES256 signature with that key.</summary>
    private static void AssertSignedByPublishedKey(string token, JsonElement jwks)
    {
        var parts = token.Split('.');
        var kid = JsonDocument.Parse(Base64Url.DecodeFromChars(parts[0])).RootElement.GetProperty("kid").GetString();
        var jwk = jwks.GetProperty("keys").EnumerateArray().SingleOrDefault(k => k.GetProperty("kid").GetString() == kid);
        Assert.True(jwk.ValueKind == JsonValueKind.Object, $"kid {kid} is not in the JWKS {jwks.GetRawText()}");
        Assert.Equal(("EC", "P-256", "ES256", "sig"), (jwk.GetProperty("kty").GetString(), jwk.GetProperty("crv").GetString(), jwk.GetProperty("alg").GetString(), jwk.GetProperty("use").GetString()));
        using var key = ECDsa.Create(new ECParameters
        {
            Curve = ECCurve.NamedCurves.nistP256,
            Q = new ECPoint { X = Base64Url.DecodeFromChars(jwk.GetProperty("x").GetString()), Y = Base64Url.DecodeFromChars(jwk.GetProperty("y").GetString()) },
        });
        // JWS carries ES256 signatures as r‖s (IEEE P1363), .NET's default format.
        Assert.True(key.VerifyData(Encoding.ASCII.GetBytes(parts[0] + "." + parts[1]), Base64Url.DecodeFromChars(parts[2]), HashAlgorithmName.SHA256), "signature does not verify");
    }
}
