using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Microsoft.IdentityModel.Tokens;

namespace Tessera.Auth.Tests;

/// <summary>An external RS256 issuer served by the test itself: discovery document and JWKS on loopback.</summary>
public sealed class FakeIssuer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private volatile RsaSecurityKey[] _published;
    private int _jwksRequests;
    private int _discoveryRequests;

    private FakeIssuer(WebApplication app, string url, RsaSecurityKey[] published)
    {
        _app = app;
        Url = url;
        _published = published;
    }

    public string Url { get; }
    public int JwksRequests => Volatile.Read(ref _jwksRequests);
    public int DiscoveryRequests => Volatile.Read(ref _discoveryRequests);

    /// <summary>While true, the discovery document is answered 500 (an issuer that is down; IdentityModel itself retries a 503 once).</summary>
    public volatile bool Failing;

    public static RsaSecurityKey NewKey(string kid) => new(RSA.Create(2048)) { KeyId = kid };

    public void Publish(params RsaSecurityKey[] keys) => _published = keys;

    public static async Task<FakeIssuer> StartAsync(params RsaSecurityKey[] keys)
    {
        FakeIssuer? issuer = null;
        var (app, url) = await LoopbackApp.StartAsync(_ => { }, app =>
        {
            app.MapGet("/.well-known/openid-configuration", () =>
            {
                Interlocked.Increment(ref issuer!._discoveryRequests);
                return issuer.Failing
                    ? Results.StatusCode(StatusCodes.Status500InternalServerError)
                    : Results.Json(new Dictionary<string, object>
                    {
                        ["issuer"] = issuer.Url,
                        ["jwks_uri"] = issuer.Url + "/jwks",
                        ["id_token_signing_alg_values_supported"] = new[] { "RS256" },
                    });
            });
            app.MapGet("/jwks", () =>
            {
                Interlocked.Increment(ref issuer!._jwksRequests);
                var keys = issuer._published.Select(k =>
                {
                    var p = k.Rsa.ExportParameters(false);
                    return new Dictionary<string, string>
                    {
                        ["kty"] = "RSA",
                        ["use"] = "sig",
                        ["alg"] = "RS256",
                        ["kid"] = k.KeyId,
                        ["n"] = Base64UrlEncoder.Encode(p.Modulus),
                        ["e"] = Base64UrlEncoder.Encode(p.Exponent),
                    };
                });
                return Results.Json(new { keys });
            });
        });
        issuer = new FakeIssuer(app, url, keys);
        return issuer;
    }

    public string Token(RsaSecurityKey key, string sub = "oidc-user") => Tokens.Create(
        sub: sub,
        issuer: Url,
        audience: "tessera-api",
        type: "JWT",
        credentials: new SigningCredentials(key, SecurityAlgorithms.RsaSha256));

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}

public class OpenIdConnectTests
{
    private static Task<AuthTestServer> ServerFor(FakeIssuer issuer, TimeProvider? time = null) => AuthTestServer.StartAsync(
        o =>
        {
            o.SigningKeys.Clear();
            o.Issuer = null;
            o.Audience = "tessera-api";
            o.Authority = issuer.Url;
            o.RequireHttpsMetadata = false;
            // Keycloak, Auth0 and Entra label access tokens "JWT".
            o.ValidTokenTypes.Add("JWT");
        },
        services =>
        {
            if (time is not null)
            {
                // Only the validator's clock is fake (the metadata schedule); the token deadlines keep real time.
                services.AddSingleton(sp => new AccessTokenValidator(
                    sp.GetRequiredService<IOptions<JwtAuthenticationOptions>>(),
                    sp.GetRequiredService<ILogger<AccessTokenValidator>>(),
                    sp.GetService<IAccessTokenRevocation>(),
                    time));
            }
        });

    private static async Task<string> HandshakeAsync(AuthTestServer server, string token)
    {
        var (client, reply) = await server.ConnectWithAuthAsync(new { token });
        client.Dispose();
        return reply;
    }

    [Fact]
    public async Task A_failing_issuer_is_retried_with_exponential_backoff_not_on_every_handshake_and_recovers()
    {
        var key = FakeIssuer.NewKey("k1");
        await using var issuer = await FakeIssuer.StartAsync(key);
        issuer.Failing = true;
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var server = await ServerFor(issuer, time);

        // The first handshake tries once (first use, then no unknown-kid retry); the next ones do not try again
        // (before the backoff, each handshake fetched twice: 10 requests here).
        for (var i = 0; i < 5; i++)
        {
            Assert.Contains("\"code\":\"token_invalid\"", await HandshakeAsync(server, issuer.Token(key)));
        }
        Assert.Equal(1, issuer.DiscoveryRequests);

        // 1 s after the first failure: one more attempt, which fails too.
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.Contains("\"code\":\"token_invalid\"", await HandshakeAsync(server, issuer.Token(key)));
        Assert.Contains("\"code\":\"token_invalid\"", await HandshakeAsync(server, issuer.Token(key)));
        Assert.Equal(2, issuer.DiscoveryRequests);

        // The issuer is back, but the second backoff is 2 s: 1 s on, nothing is fetched yet.
        issuer.Failing = false;
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.Contains("\"code\":\"token_invalid\"", await HandshakeAsync(server, issuer.Token(key)));
        Assert.Equal(2, issuer.DiscoveryRequests);
        Assert.Equal(0, issuer.JwksRequests);

        // 2 s on: fetched, and tokens verify again; later handshakes use the keys without fetching.
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.StartsWith("40{", await HandshakeAsync(server, issuer.Token(key)));
        Assert.StartsWith("40{", await HandshakeAsync(server, issuer.Token(key, "second")));
        Assert.Equal(3, issuer.DiscoveryRequests);
        Assert.Equal(1, issuer.JwksRequests);
        Assert.Contains(server.Logs.Entries, e => e.Level == LogLevel.Warning && e.Message.Contains("next attempt in 2 s", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_failed_refetch_for_a_rotated_key_is_retried_after_the_backoff_not_after_the_kid_interval()
    {
        var k1 = FakeIssuer.NewKey("k1");
        var k2 = FakeIssuer.NewKey("k2");
        await using var issuer = await FakeIssuer.StartAsync(k1);
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var server = await ServerFor(issuer, time);
        Assert.StartsWith("40{", await HandshakeAsync(server, issuer.Token(k1)));
        Assert.Equal(1, issuer.DiscoveryRequests);

        // The issuer rotates to k2 while it is down: the refetch for the unknown kid fails.
        issuer.Publish(k2);
        issuer.Failing = true;
        Assert.Contains("\"code\":\"token_invalid\"", await HandshakeAsync(server, issuer.Token(k2)));
        Assert.Contains("\"code\":\"token_invalid\"", await HandshakeAsync(server, issuer.Token(k2)));
        Assert.Equal(2, issuer.DiscoveryRequests);
        // Known keys keep working meanwhile, without a fetch.
        Assert.StartsWith("40{", await HandshakeAsync(server, issuer.Token(k1, "during-outage")));
        Assert.Equal(2, issuer.DiscoveryRequests);

        // Back up; 1 s later (well within MetadataRefreshInterval's minute) the new key is fetched.
        issuer.Failing = false;
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.StartsWith("40{", await HandshakeAsync(server, issuer.Token(k2)));
        Assert.Equal(3, issuer.DiscoveryRequests);
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(2, 2)]
    [InlineData(3, 4)]
    [InlineData(6, 32)]
    [InlineData(7, 60)]
    [InlineData(1000, 60)]
    public void Backoff_doubles_from_one_second_up_to_its_cap(int failures, int seconds) =>
        Assert.Equal(TimeSpan.FromSeconds(seconds), AccessTokenValidator.Backoff(failures, TimeSpan.FromMinutes(1)));

    [Fact]
    public void The_backoff_cap_is_the_refresh_interval_between_one_second_and_one_minute()
    {
        Assert.Equal(TimeSpan.FromSeconds(1), AccessTokenValidator.MaxBackoff(TimeSpan.Zero));
        Assert.Equal(TimeSpan.FromSeconds(20), AccessTokenValidator.MaxBackoff(TimeSpan.FromSeconds(20)));
        Assert.Equal(TimeSpan.FromMinutes(1), AccessTokenValidator.MaxBackoff(TimeSpan.FromHours(12)));
        Assert.Equal(TimeSpan.FromSeconds(1), AccessTokenValidator.Backoff(5, AccessTokenValidator.MaxBackoff(TimeSpan.Zero)));
    }

    [Fact]
    public async Task Tokens_of_a_discovered_issuer_are_accepted_and_its_key_rotation_is_followed()
    {
        var k1 = FakeIssuer.NewKey("k1");
        var k2 = FakeIssuer.NewKey("k2");
        await using var issuer = await FakeIssuer.StartAsync(k1);
        await using var server = await ServerFor(issuer);

        var (first, reply) = await server.ConnectWithAuthAsync(new { token = issuer.Token(k1) });
        using (first)
        {
            Assert.StartsWith("40{", reply);
        }
        Assert.Equal(1, issuer.JwksRequests);

        // The issuer rotates: k2 replaces k1. A token with the unknown kid triggers one refetch.
        issuer.Publish(k2);
        var (second, rotated) = await server.ConnectWithAuthAsync(new { token = issuer.Token(k2, "after-rotation") });
        using (second)
        {
            Assert.True(rotated.StartsWith("40{"), rotated + string.Join("\n", server.Logs.Entries.Where(e => e.Category.Contains("Tessera")).Select(e => e.Message)) + " jwks=" + issuer.JwksRequests);
            await second.SendAsync("421[\"whoami\"]");
            Assert.StartsWith("431[{\"sub\":\"after-rotation\"", await second.NextTextAsync());
        }
        Assert.Equal(2, issuer.JwksRequests);
    }

    [Fact]
    public async Task Unknown_kids_trigger_at_most_one_refetch_per_interval()
    {
        await using var issuer = await FakeIssuer.StartAsync(FakeIssuer.NewKey("k1"));
        await using var server = await ServerFor(issuer);
        for (var i = 0; i < 5; i++)
        {
            var (client, reply) = await server.ConnectWithAuthAsync(new { token = issuer.Token(FakeIssuer.NewKey("unknown-" + i)) });
            using (client)
            {
                Assert.Contains("\"code\":\"token_invalid\"", reply);
            }
        }
        // One fetch at first use, one refetch for the first unknown kid; the rest wait for the interval.
        Assert.Equal(2, issuer.JwksRequests);
    }

    [Fact]
    public async Task Tokens_from_another_issuer_or_for_another_audience_are_refused()
    {
        var key = FakeIssuer.NewKey("k1");
        await using var issuer = await FakeIssuer.StartAsync(key);
        await using var server = await ServerFor(issuer);
        var wrongIssuer = Tokens.Create(issuer: "https://evil.example", audience: "tessera-api", type: "JWT", credentials: new SigningCredentials(key, SecurityAlgorithms.RsaSha256));
        var wrongAudience = Tokens.Create(issuer: issuer.Url, audience: "other", type: "JWT", credentials: new SigningCredentials(key, SecurityAlgorithms.RsaSha256));
        foreach (var token in new[] { wrongIssuer, wrongAudience })
        {
            var (client, reply) = await server.ConnectWithAuthAsync(new { token });
            using (client)
            {
                Assert.Contains("\"code\":\"token_invalid\"", reply);
            }
        }
    }
}
