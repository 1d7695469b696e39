using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using System.Xml.Linq;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.DataProtection.KeyManagement;
using Microsoft.AspNetCore.DataProtection.Repositories;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Tessera.SocketIO;

namespace Tessera.Auth.Tests;

/// <summary>
/// Kestrel on 127.0.0.1 whose sockets are authenticated by an ASP.NET Core authentication scheme
/// (<c>AddSocketIO().AddAuthenticationScheme(scheme)</c>) on every namespace. Handler: whoami → {sub, name, identity,
/// subject, expiresAt} read from <c>socket.User</c> and the socket's <see cref="ISocketAuthenticationFeature"/>.
/// </summary>
public sealed class SchemeTestServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private SchemeTestServer(WebApplication app, string baseUrl, LogCapture logs)
    {
        _app = app;
        BaseUrl = baseUrl;
        Logs = logs;
        Io = app.Services.GetRequiredService<SocketIOServer>();
    }

    public string BaseUrl { get; }
    public LogCapture Logs { get; }
    public SocketIOServer Io { get; }
    public IServiceProvider Services => _app.Services;

    /// <summary>Sockets admitted to a namespace (the application's connection handler ran).</summary>
    public int Connections => Volatile.Read(ref _connections);

    private int _connections;

    public static async Task<SchemeTestServer> StartAsync(
        Action<IServiceCollection> authentication,
        string scheme,
        Action<JwtAuthenticationOptions>? configure = null,
        Action<WebApplication>? endpoints = null)
    {
        var logs = new LogCapture();
        SchemeTestServer? server = null;
        var (app, baseUrl) = await LoopbackApp.StartAsync(
            builder =>
            {
                // The key ring in memory, per app: nothing written to the home directory, no sharing between tests.
                builder.Services.AddDataProtection();
                builder.Services.Configure<KeyManagementOptions>(o => o.XmlRepository = new InMemoryXmlRepository());
                authentication(builder.Services);
                builder.Services.AddSocketIO().AddAuthenticationScheme(scheme, configure);
            },
            app =>
            {
                endpoints?.Invoke(app);
                app.Services.GetRequiredService<SocketIOServer>().Of("/").OnConnection(socket =>
                {
                    Interlocked.Increment(ref server!._connections);
                    socket.On("whoami", e =>
                    {
                        var feature = e.Socket.Features.Get<ISocketAuthenticationFeature>();
                        e.Ack(new
                        {
                            sub = e.Socket.User.FindFirst("sub")?.Value,
                            name = e.Socket.User.FindFirst("name")?.Value,
                            identity = e.Socket.User.Identity?.Name,
                            authenticated = e.Socket.User.Identity?.IsAuthenticated ?? false,
                            subject = feature?.Subject,
                            expiresAt = feature?.ExpiresAt.ToUnixTimeMilliseconds(),
                        });
                    });
                });
                app.MapSocketIO();
            },
            logs: logs);
        server = new SchemeTestServer(app, baseUrl, logs);
        return server;
    }

    public Task<RawClient> ConnectRawAsync(string query = "", Action<System.Net.WebSockets.ClientWebSocketOptions>? configure = null) =>
        RawClient.ConnectAsync(BaseUrl, query, configure);

    /// <summary>Opens a WebSocket, sends CONNECT for "/" with this auth payload, returns the reply (40… or 44…).</summary>
    public async Task<(RawClient Client, string Reply)> ConnectAsync(
        object? auth = null, string query = "", Action<System.Net.WebSockets.ClientWebSocketOptions>? configure = null)
    {
        var client = await ConnectRawAsync(query, configure);
        await client.SendAsync("40" + (auth is null ? string.Empty : JsonSerializer.Serialize(auth)));
        return (client, await client.NextTextAsync());
    }

    /// <summary>Asks whoami with ack id <paramref name="ackId"/> and returns the answer.</summary>
    public static async Task<JsonElement> WhoAmIAsync(RawClient client, int ackId = 1)
    {
        await client.SendAsync($"42{ackId}[\"whoami\"]");
        var reply = await client.NextTextAsync();
        Assert.StartsWith($"43{ackId}[", reply);
        return JsonDocument.Parse(reply[$"43{ackId}".Length..]).RootElement[0].Clone();
    }

    /// <summary>No log line holds the token's claims or its signature (a JWT's header is the same for every token).</summary>
    public void AssertNoTokenLogged(string token)
    {
        var parts = token.Split('.');
        var payload = parts.Length > 1 ? parts[1] : token;
        var signature = parts[^1];
        Assert.DoesNotContain(Logs.Entries, e =>
            e.Message.Contains(payload[..Math.Min(40, payload.Length)], StringComparison.Ordinal)
            || (signature.Length > 0 && e.Message.Contains(signature[^Math.Min(40, signature.Length)..], StringComparison.Ordinal)));
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    private sealed class InMemoryXmlRepository : IXmlRepository
    {
        private readonly List<XElement> _elements = [];

        public IReadOnlyCollection<XElement> GetAllElements()
        {
            lock (_elements)
            {
                return [.. _elements.Select(e => new XElement(e))];
            }
        }

        public void StoreElement(XElement element, string friendlyName)
        {
            lock (_elements)
            {
                _elements.Add(new XElement(element));
            }
        }
    }
}

/// <summary>
/// A tiny OpenID Connect issuer on loopback: GET /.well-known/openid-configuration ({issuer, jwks_uri}) and the
/// JWKS of one RSA key it generated (converted with <see cref="JsonWebKeyConverter"/>); signs RS256 tokens with it.
/// </summary>
public sealed class DiscoveryIssuer : IAsyncDisposable
{
    public const string KeyId = "issuer-key-1";

    private readonly WebApplication _app;
    private int _discoveryRequests;
    private int _jwksRequests;

    private DiscoveryIssuer(WebApplication app, string url, RsaSecurityKey key)
    {
        _app = app;
        Url = url;
        Key = key;
    }

    public string Url { get; }

    /// <summary>The issuer's signing key (private part included); only its public part is published.</summary>
    public RsaSecurityKey Key { get; }

    public int DiscoveryRequests => Volatile.Read(ref _discoveryRequests);
    public int JwksRequests => Volatile.Read(ref _jwksRequests);

    public static async Task<DiscoveryIssuer> StartAsync()
    {
        var key = new RsaSecurityKey(RSA.Create(2048)) { KeyId = KeyId };
        DiscoveryIssuer? issuer = null;
        var (app, url) = await LoopbackApp.StartAsync(_ => { }, app =>
        {
            app.MapGet("/.well-known/openid-configuration", () =>
            {
                Interlocked.Increment(ref issuer!._discoveryRequests);
                return Results.Json(new Dictionary<string, object>
                {
                    ["issuer"] = issuer.Url,
                    ["jwks_uri"] = issuer.Url + "/jwks",
                    ["id_token_signing_alg_values_supported"] = new[] { "RS256" },
                });
            });
            app.MapGet("/jwks", () =>
            {
                Interlocked.Increment(ref issuer!._jwksRequests);
                var publicKey = new RsaSecurityKey(issuer.Key.Rsa.ExportParameters(false)) { KeyId = issuer.Key.KeyId };
                var jwk = JsonWebKeyConverter.ConvertFromRSASecurityKey(publicKey);
                Assert.False(jwk.HasPrivateKey);
                return Results.Json(new
                {
                    keys = new[]
                    {
                        new Dictionary<string, string>
                        {
                            ["kty"] = jwk.Kty,
                            ["use"] = "sig",
                            ["alg"] = SecurityAlgorithms.RsaSha256,
                            ["kid"] = jwk.Kid,
                            ["n"] = jwk.N,
                            ["e"] = jwk.E,
                        },
                    },
                });
            });
        });
        issuer = new DiscoveryIssuer(app, url, key);
        return issuer;
    }

    /// <summary>An RS256 access token for audience "api" with sub and name, signed by <paramref name="key"/> (default: the issuer's).</summary>
    public string Token(
        string sub = "oidc-alice",
        string name = "OIDC Alice",
        TimeSpan? lifetime = null,
        RsaSecurityKey? key = null,
        string audience = "api",
        DateTime? notBefore = null)
    {
        var now = DateTime.UtcNow;
        var expires = now + (lifetime ?? TimeSpan.FromMinutes(10));
        var nbf = notBefore ?? (expires < now ? expires - TimeSpan.FromMinutes(5) : now);
        return new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = Url,
            Audience = audience,
            Claims = new Dictionary<string, object> { ["sub"] = sub, ["name"] = name, ["jti"] = Guid.NewGuid().ToString("N") },
            IssuedAt = nbf,
            NotBefore = nbf,
            Expires = expires,
            SigningCredentials = new SigningCredentials(key ?? Key, SecurityAlgorithms.RsaSha256),
        });
    }

    /// <summary>The token's <c>exp</c> in Unix milliseconds (whole seconds, as the JWT carries it).</summary>
    public static long ExpMs(string token) => new DateTimeOffset(new JsonWebToken(token).ValidTo).ToUnixTimeMilliseconds();

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
