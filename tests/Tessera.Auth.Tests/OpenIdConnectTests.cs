using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.IdentityModel.Tokens;

namespace Tessera.Auth.Tests;

/// <summary>An external RS256 issuer served by the test itself: discovery document and JWKS on loopback.</summary>
public sealed class FakeIssuer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private volatile RsaSecurityKey[] _published;
    private int _jwksRequests;

    private FakeIssuer(WebApplication app, string url, RsaSecurityKey[] published)
    {
        _app = app;
        Url = url;
        _published = published;
    }

    public string Url { get; }
    public int JwksRequests => Volatile.Read(ref _jwksRequests);

    public static RsaSecurityKey NewKey(string kid) => new(RSA.Create(2048)) { KeyId = kid };

    public void Publish(params RsaSecurityKey[] keys) => _published = keys;

    public static async Task<FakeIssuer> StartAsync(params RsaSecurityKey[] keys)
    {
        FakeIssuer? issuer = null;
        var (app, url) = await LoopbackApp.StartAsync(_ => { }, app =>
        {
            app.MapGet("/.well-known/openid-configuration", () => Results.Json(new Dictionary<string, object>
            {
                ["issuer"] = issuer!.Url,
                ["jwks_uri"] = issuer.Url + "/jwks",
                ["id_token_signing_alg_values_supported"] = new[] { "RS256" },
            }));
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
    private static Task<AuthTestServer> ServerFor(FakeIssuer issuer) => AuthTestServer.StartAsync(o =>
    {
        o.SigningKeys.Clear();
        o.Issuer = null;
        o.Audience = "tessera-api";
        o.Authority = issuer.Url;
        o.RequireHttpsMetadata = false;
        // Keycloak, Auth0 and Entra label access tokens "JWT".
        o.ValidTokenTypes.Add("JWT");
    });

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
