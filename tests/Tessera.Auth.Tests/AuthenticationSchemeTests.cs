using System.Net;
using System.Net.Http.Json;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.IdentityModel.Tokens;

namespace Tessera.Auth.Tests;

/// <summary>
/// <c>AddSocketIO().AddAuthenticationScheme(scheme)</c>: sockets authenticated by a real ASP.NET Core scheme
/// (JwtBearer against an OpenID Connect issuer on loopback; cookies from a real login), over raw WebSockets.
/// </summary>
public class AuthenticationSchemeTests
{
    private const string Missing = "44{\"message\":\"Authentication error: Token missing\",\"data\":{\"code\":\"token_missing\",\"retryable\":false}}";
    private const string Invalid = "44{\"message\":\"Authentication error: Invalid token\",\"data\":{\"code\":\"token_invalid\",\"retryable\":false}}";
    private const string Expired = "44{\"message\":\"Authentication error: Token expired\",\"data\":{\"code\":\"token_expired\",\"retryable\":true}}";

    // ---- JwtBearer against a discovery document ----

    private static Task<SchemeTestServer> BearerServer(DiscoveryIssuer issuer, Action<JwtAuthenticationOptions>? configure = null) =>
        SchemeTestServer.StartAsync(
            services => services.AddAuthentication().AddJwtBearer(o =>
            {
                o.Authority = issuer.Url;
                o.RequireHttpsMetadata = false;
                o.Audience = "api";
                o.MapInboundClaims = false;
            }),
            JwtBearerDefaults.AuthenticationScheme,
            configure);

    private static long VerificationsByTessera(SchemeTestServer server) =>
        server.Services.GetRequiredService<AccessTokenValidator>().Verifications;

    [Fact]
    public async Task AuthenticationScheme_JwtBearer_token_in_auth_payload_connects_as_the_schemes_principal_until_exp()
    {
        await using var issuer = await DiscoveryIssuer.StartAsync();
        await using var server = await BearerServer(issuer);
        var token = issuer.Token(sub: "oidc-alice", name: "OIDC Alice");

        var (client, reply) = await server.ConnectAsync(new { token });
        using (client)
        {
            Assert.StartsWith("40{\"sid\":", reply);
            var me = await SchemeTestServer.WhoAmIAsync(client);
            Assert.Equal("oidc-alice", me.GetProperty("sub").GetString());
            Assert.Equal("OIDC Alice", me.GetProperty("name").GetString());
            Assert.True(me.GetProperty("authenticated").GetBoolean());
            // The per-socket state: the scheme's sub, and the token's exp as the connection's deadline.
            Assert.Equal("oidc-alice", me.GetProperty("subject").GetString());
            Assert.Equal(DiscoveryIssuer.ExpMs(token), me.GetProperty("expiresAt").GetInt64());

            // The socket is in its user's room, like a socket authenticated by Tessera's own validator.
            server.Io.To("user:oidc-alice").Emit("direct", "hi");
            Assert.Equal("42[\"direct\",\"hi\"]", await client.NextTextAsync());
        }
        // JwtBearer verified the token with the key it discovered; Tessera's own validator never ran.
        Assert.True(issuer.DiscoveryRequests >= 1, "the discovery document was never fetched");
        Assert.True(issuer.JwksRequests >= 1, "the JWKS was never fetched");
        Assert.Equal(0, VerificationsByTessera(server));
        Assert.Equal(1, server.Connections);
    }

    [Fact]
    public async Task AuthenticationScheme_JwtBearer_token_from_authorization_header_or_query_is_presented_to_the_scheme()
    {
        await using var issuer = await DiscoveryIssuer.StartAsync();
        await using var server = await BearerServer(issuer);
        var fromHeader = issuer.Token(sub: "header-user");
        var fromQuery = issuer.Token(sub: "query-user");
        var variants = new (string Sub, string Token, string Query, Action<System.Net.WebSockets.ClientWebSocketOptions>? Configure)[]
        {
            ("header-user", fromHeader, "", o => o.SetRequestHeader("Authorization", "Bearer " + fromHeader)),
            ("query-user", fromQuery, "&token=" + fromQuery, null),
        };
        foreach (var (sub, token, query, configure) in variants)
        {
            var (client, reply) = await server.ConnectAsync(query: query, configure: configure);
            using (client)
            {
                Assert.True(reply.StartsWith("40{\"sid\":", StringComparison.Ordinal), $"{sub}: {reply}");
                var me = await SchemeTestServer.WhoAmIAsync(client);
                Assert.Equal(sub, me.GetProperty("sub").GetString());
                Assert.Equal(DiscoveryIssuer.ExpMs(token), me.GetProperty("expiresAt").GetInt64());
            }
            server.AssertNoTokenLogged(token);
        }
        Assert.Equal(2, server.Connections);
    }

    [Fact]
    public async Task AuthenticationScheme_JwtBearer_refusals_carry_the_contracts_messages_and_codes()
    {
        await using var issuer = await DiscoveryIssuer.StartAsync();
        await using var server = await BearerServer(issuer);
        using var otherRsa = RSA.Create(2048);
        var cases = new (string Case, string? Token, string Expected)[]
        {
            ("no token", null, Missing),
            // Refused by JwtBearer itself (SecurityTokenExpiredException).
            ("expired an hour ago", issuer.Token(lifetime: TimeSpan.FromHours(-1)), Expired),
            // JwtBearer's own 5-minute skew lets it through; Tessera's ClockSkew (30 s) does not.
            ("expired two minutes ago", issuer.Token(lifetime: TimeSpan.FromMinutes(-2)), Expired),
            ("another key, same kid", issuer.Token(key: new RsaSecurityKey(otherRsa) { KeyId = DiscoveryIssuer.KeyId }), Invalid),
            ("another key, unknown kid", issuer.Token(key: new RsaSecurityKey(otherRsa) { KeyId = "attacker" }), Invalid),
            ("another audience", issuer.Token(audience: "not-api"), Invalid),
            ("not a JWT", "not-a-jwt", Invalid),
        };
        foreach (var (name, token, expected) in cases)
        {
            var (client, reply) = await server.ConnectAsync(token is null ? null : new { token });
            using (client)
            {
                Assert.True(reply == expected, $"{name}: {reply}");
            }
            if (token is not null)
            {
                server.AssertNoTokenLogged(token);
            }
        }
        Assert.Equal(0, server.Connections);
    }

    [Fact]
    public async Task AuthenticationScheme_JwtBearer_in_band_refresh_goes_through_the_scheme_and_moves_the_deadline()
    {
        await using var issuer = await DiscoveryIssuer.StartAsync();
        await using var server = await BearerServer(issuer);
        var (client, reply) = await server.ConnectAsync(new { token = issuer.Token(lifetime: TimeSpan.FromMinutes(10)) });
        using (client)
        {
            Assert.StartsWith("40{\"sid\":", reply);
            var fresh = issuer.Token(lifetime: TimeSpan.FromMinutes(20));
            await client.SendAsync($"421[\"auth:refresh\",\"{fresh}\"]");
            Assert.Equal($"431[{{\"ok\":true,\"expiresAt\":{DiscoveryIssuer.ExpMs(fresh)}}}]", await client.NextTextAsync());
            Assert.Equal(DiscoveryIssuer.ExpMs(fresh), (await SchemeTestServer.WhoAmIAsync(client, 2)).GetProperty("expiresAt").GetInt64());

            using var otherRsa = RSA.Create(2048);
            var forged = issuer.Token(lifetime: TimeSpan.FromHours(5), key: new RsaSecurityKey(otherRsa) { KeyId = DiscoveryIssuer.KeyId });
            await client.SendAsync($"423[\"auth:refresh\",\"{forged}\"]");
            Assert.Equal("433[{\"ok\":false,\"code\":\"token_invalid\"}]", await client.NextTextAsync());
            await client.SendAsync($"424[\"auth:refresh\",\"{issuer.Token(sub: "mallory")}\"]");
            Assert.Equal("434[{\"ok\":false,\"code\":\"sub_mismatch\"}]", await client.NextTextAsync());
            await client.SendAsync($"425[\"auth:refresh\",\"{issuer.Token(lifetime: TimeSpan.FromHours(-1))}\"]");
            Assert.Equal("435[{\"ok\":false,\"code\":\"token_expired\"}]", await client.NextTextAsync());

            // None of the refused refreshes moved the deadline or changed the user.
            var me = await SchemeTestServer.WhoAmIAsync(client, 6);
            Assert.Equal(DiscoveryIssuer.ExpMs(fresh), me.GetProperty("expiresAt").GetInt64());
            Assert.Equal("oidc-alice", me.GetProperty("sub").GetString());
        }
        Assert.Equal(0, VerificationsByTessera(server));
    }

    // ---- Cookie authentication ----

    private static Task<SchemeTestServer> CookieServer(TimeSpan ticketLifetime, TimeSpan expiryWarning) =>
        SchemeTestServer.StartAsync(
            services => services.AddAuthentication(CookieAuthenticationDefaults.AuthenticationScheme).AddCookie(o =>
            {
                o.ExpireTimeSpan = ticketLifetime;
                o.SlidingExpiration = false;
            }),
            CookieAuthenticationDefaults.AuthenticationScheme,
            o =>
            {
                o.ExpiryWarning = expiryWarning;
                o.ClockSkew = TimeSpan.Zero;
            },
            app => app.MapPost("/login", async (HttpContext context) =>
            {
                var identity = new ClaimsIdentity(
                    [new Claim("sub", "cookie-carol"), new Claim("name", "Carol")],
                    CookieAuthenticationDefaults.AuthenticationScheme,
                    "name",
                    "role");
                var properties = new AuthenticationProperties();
                await context.SignInAsync(new ClaimsPrincipal(identity), properties);
                // The cookie handler filled in the ticket's expiry (issued + ExpireTimeSpan).
                return Results.Json(new { expiresAt = properties.ExpiresUtc!.Value.ToUnixTimeMilliseconds() });
            }));

    /// <summary>Logs in over HTTP like a browser would and returns the Cookie header to send, and the ticket's expiry.</summary>
    private static async Task<(string Cookie, long ExpiresAt)> LogInAsync(SchemeTestServer server)
    {
        var cookies = new CookieContainer();
        using var handler = new HttpClientHandler { CookieContainer = cookies, UseCookies = true };
        using var http = new HttpClient(handler) { BaseAddress = new Uri(server.BaseUrl), Timeout = TimeSpan.FromSeconds(10) };
        using var response = await http.PostAsync("/login", null);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        var header = cookies.GetCookieHeader(new Uri(server.BaseUrl));
        Assert.Contains(CookieAuthenticationDefaults.CookiePrefix + CookieAuthenticationDefaults.AuthenticationScheme + "=", header);
        return (header, body.GetProperty("expiresAt").GetInt64());
    }

    [Fact]
    public async Task AuthenticationScheme_Cookie_login_then_websocket_is_the_cookies_principal_and_expires_with_the_ticket()
    {
        await using var server = await CookieServer(TimeSpan.FromSeconds(3), TimeSpan.FromMilliseconds(1500));
        var (cookie, ticketExpiresAt) = await LogInAsync(server);

        using var client = await server.ConnectRawAsync("", o => o.SetRequestHeader("Cookie", cookie));
        await client.SendAsync("40");
        Assert.StartsWith("40{\"sid\":", await client.NextTextAsync());
        await client.SendAsync("421[\"whoami\"]");

        // The whoami answer and the warning may come in either order (the warning is due 1.5 s before a ticket
        // that lives 3 s); everything else comes in order and ends with the namespace's DISCONNECT.
        string? whoami = null;
        var pushed = new List<string>();
        DateTimeOffset? expiredAt = null;
        while (pushed.Count < 3)
        {
            var packet = await client.NextTextAsync();
            if (packet.StartsWith("431[", StringComparison.Ordinal) && whoami is null)
            {
                whoami = packet;
                continue;
            }
            if (packet.StartsWith("42[\"auth:expired\"", StringComparison.Ordinal))
            {
                expiredAt = DateTimeOffset.UtcNow;
            }
            pushed.Add(packet);
        }
        Assert.NotNull(whoami);
        var me = JsonDocument.Parse(whoami["431".Length..]).RootElement[0];
        Assert.Equal("cookie-carol", me.GetProperty("sub").GetString());
        Assert.Equal("Carol", me.GetProperty("name").GetString());
        Assert.Equal("Carol", me.GetProperty("identity").GetString());
        Assert.Equal("cookie-carol", me.GetProperty("subject").GetString());

        // The deadline is the ticket's ExpiresUtc (which the cookie stores to the second).
        var expiresAt = me.GetProperty("expiresAt").GetInt64();
        Assert.InRange(expiresAt, ticketExpiresAt - 999, ticketExpiresAt);
        Assert.Equal(
            [$"42[\"auth:expiring\",{{\"expiresAt\":{expiresAt}}}]", "42[\"auth:expired\",{\"code\":\"token_expired\"}]", "41"],
            pushed);
        Assert.True(expiredAt >= DateTimeOffset.FromUnixTimeMilliseconds(expiresAt), $"expired at {expiredAt:O}, before the ticket's {expiresAt}");

        // The same cookie no longer opens the namespace. (The cookie handler reports an expired ticket as a plain
        // failure, "Ticket expired", so today this is token_invalid rather than token_expired.)
        await client.SendAsync("40");
        Assert.Contains(await client.NextTextAsync(), new[] { Invalid, Expired });
        Assert.Equal(1, server.Connections);
    }

    [Fact]
    public async Task AuthenticationScheme_Cookie_missing_is_token_missing_and_a_forged_cookie_is_token_invalid()
    {
        await using var server = await CookieServer(TimeSpan.FromMinutes(10), TimeSpan.FromMinutes(1));
        var (cookie, _) = await LogInAsync(server);
        // One character in the middle of the protected ticket changed (the end may hold only padding bits).
        var value = cookie[(cookie.IndexOf('=', StringComparison.Ordinal) + 1)..].ToCharArray();
        var middle = value.Length / 2;
        value[middle] = value[middle] == 'A' ? 'B' : 'A';
        var tampered = CookieAuthenticationDefaults.CookiePrefix + CookieAuthenticationDefaults.AuthenticationScheme + "=" + new string(value);
        var cases = new (string Case, string? Cookie, string Expected)[]
        {
            ("no cookie", null, Missing),
            ("an unrelated cookie", "theme=dark", Missing),
            ("a tampered ticket", tampered, Invalid),
            ("garbage", CookieAuthenticationDefaults.CookiePrefix + CookieAuthenticationDefaults.AuthenticationScheme + "=garbage", Invalid),
        };
        foreach (var (name, header, expected) in cases)
        {
            var (client, reply) = await server.ConnectAsync(configure: header is null ? null : o => o.SetRequestHeader("Cookie", header));
            using (client)
            {
                Assert.True(reply == expected, $"{name}: {reply}");
            }
        }
        Assert.Equal(0, server.Connections);

        // The genuine cookie, on the same server, is let in: the refusals above were about the cookies.
        var (ok, okReply) = await server.ConnectAsync(configure: o => o.SetRequestHeader("Cookie", cookie));
        using (ok)
        {
            Assert.StartsWith("40{\"sid\":", okReply);
            Assert.Equal("cookie-carol", (await SchemeTestServer.WhoAmIAsync(ok)).GetProperty("sub").GetString());
        }
    }
}
