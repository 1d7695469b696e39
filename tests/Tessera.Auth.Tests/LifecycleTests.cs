using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;

namespace Tessera.Auth.Tests;

/// <summary>A connected socket's token keeps being enforced: warning, expiry, in-band refresh.</summary>
public class ExpiryTests
{
    [Fact]
    public async Task Token_without_refresh_gets_expiring_then_expired_then_disconnect()
    {
        await using var server = await AuthTestServer.StartAsync(o =>
        {
            o.ClockSkew = TimeSpan.Zero;
            o.ExpiryWarning = TimeSpan.FromSeconds(2);
        });
        var token = Tokens.Create(lifetime: TimeSpan.FromSeconds(3));
        var exp = new Microsoft.IdentityModel.JsonWebTokens.JsonWebToken(token).ValidTo;
        var (client, _) = await server.ConnectWithAuthAsync(new { token });
        using (client)
        {
            var expiring = await client.NextTextAsync();
            Assert.Equal($"42[\"auth:expiring\",{{\"expiresAt\":{new DateTimeOffset(exp).ToUnixTimeMilliseconds()}}}]", expiring);
            Assert.Equal("42[\"auth:expired\",{\"code\":\"token_expired\"}]", await client.NextTextAsync());
            Assert.Equal("41", await client.NextTextAsync());
            Assert.True(DateTime.UtcNow >= exp, "disconnected before exp");
        }
    }

    [Fact]
    public async Task Token_living_less_than_the_warning_is_warned_at_once()
    {
        await using var server = await AuthTestServer.StartAsync(o => o.ExpiryWarning = TimeSpan.FromMinutes(5));
        var (client, _) = await server.ConnectWithAuthAsync(new { token = Tokens.Create(lifetime: TimeSpan.FromMinutes(2)) });
        using (client)
        {
            Assert.StartsWith("42[\"auth:expiring\",{\"expiresAt\":", await client.NextTextAsync());
        }
    }
}

public class RefreshTests
{
    private static Task<AuthTestServer> ShortLivedServer() => AuthTestServer.StartAsync(o =>
    {
        o.ClockSkew = TimeSpan.Zero;
        o.ExpiryWarning = TimeSpan.FromMilliseconds(1500);
    });

    [Fact]
    public async Task In_band_refresh_keeps_the_socket_its_id_and_its_rooms()
    {
        await using var server = await ShortLivedServer();
        var (client, connect) = await server.ConnectWithAuthAsync(new { token = Tokens.Create(lifetime: TimeSpan.FromSeconds(3)) });
        using (client)
        {
            await client.SendAsync("421[\"join\",\"room-1\"]");
            // The join's ack and the old token's warning may come in either order on a loaded machine.
            var first = new[] { await client.NextTextAsync(), await client.NextTextAsync() };
            Assert.Contains("431[true]", first);
            Assert.Contains(first, m => m.StartsWith("42[\"auth:expiring\"", StringComparison.Ordinal));

            var fresh = Tokens.Create(lifetime: TimeSpan.FromSeconds(6));
            var freshExp = new DateTimeOffset(new Microsoft.IdentityModel.JsonWebTokens.JsonWebToken(fresh).ValidTo).ToUnixTimeMilliseconds();
            await client.SendAsync($"422[\"auth:refresh\",\"{fresh}\"]");
            Assert.Equal($"432[{{\"ok\":true,\"expiresAt\":{freshExp}}}]", await client.NextTextAsync());

            // The next thing the server says is the fresh token's warning (about 4.5 s on), not the old token's
            // expiry (about 1.5 s on): the socket outlived its first token.
            Assert.Equal($"42[\"auth:expiring\",{{\"expiresAt\":{freshExp}}}]", await client.NextTextAsync());
            server.Io.To("room-1").Emit("still-here", 1);
            Assert.Equal("42[\"still-here\",1]", await client.NextTextAsync());
            await client.SendAsync("423[\"whoami\"]");
            Assert.StartsWith("433[{\"sub\":\"alice\"", await client.NextTextAsync());
        }
        Assert.Contains("\"sid\"", connect);
    }

    [Fact]
    public async Task Refresh_with_another_users_token_is_refused_and_the_old_identity_expires_as_before()
    {
        // The four answers below must all come between the warning and the expiry: 3 s of room for a loaded machine
        // (1.5 s was seen to be too little once).
        await using var server = await AuthTestServer.StartAsync(o =>
        {
            o.ClockSkew = TimeSpan.Zero;
            o.ExpiryWarning = TimeSpan.FromSeconds(3);
        });
        var (client, _) = await server.ConnectWithAuthAsync(new { token = Tokens.Create(lifetime: TimeSpan.FromSeconds(4)) });
        using (client)
        {
            Assert.StartsWith("42[\"auth:expiring\"", await client.NextTextAsync());
            await client.SendAsync($"421[\"auth:refresh\",\"{Tokens.Create(sub: "eve")}\"]");
            Assert.Equal("431[{\"ok\":false,\"code\":\"sub_mismatch\"}]", await client.NextTextAsync());
            await client.SendAsync("422[\"auth:refresh\",\"garbage\"]");
            Assert.Equal("432[{\"ok\":false,\"code\":\"token_invalid\"}]", await client.NextTextAsync());
            var expired = Tokens.Create(lifetime: TimeSpan.FromSeconds(-30), notBefore: DateTime.UtcNow.AddMinutes(-1));
            await client.SendAsync($"423[\"auth:refresh\",\"{expired}\"]");
            Assert.Equal("433[{\"ok\":false,\"code\":\"token_expired\"}]", await client.NextTextAsync());
            await client.SendAsync("424[\"whoami\"]");
            Assert.StartsWith("434[{\"sub\":\"alice\"", await client.NextTextAsync());
            Assert.Equal("42[\"auth:expired\",{\"code\":\"token_expired\"}]", await client.NextTextAsync());
            Assert.Equal("41", await client.NextTextAsync());
        }
    }
}

/// <summary>Finding 12 of the security review: a refreshed token must pass the namespace's connect-time rules again.</summary>
public class RefreshAuthorizationTests
{
    private static readonly Dictionary<string, object> Gold = new() { ["tier"] = "gold" };

    [Fact]
    public async Task Refresh_with_a_token_that_no_longer_passes_the_namespace_policy_is_forbidden_and_the_old_identity_stands()
    {
        // The warning comes at once for every short token, so the first packet after CONNECT is always auth:expiring.
        await using var server = await AuthTestServer.StartAsync(o =>
        {
            o.ClockSkew = TimeSpan.Zero;
            o.ExpiryWarning = TimeSpan.FromMinutes(5);
        });
        // 5 s: four answers must come before the old exp, with room for a loaded machine.
        var (client, reply) = await server.ConnectWithAuthAsync(new { token = Tokens.Create(lifetime: TimeSpan.FromSeconds(5), extra: Gold) }, "/admin");
        using (client)
        {
            Assert.StartsWith("40/admin,{", reply);
            Assert.StartsWith("42/admin,[\"auth:expiring\"", await client.NextTextAsync());

            // Same user, valid signature, but the tier claim /admin requires ("gold") is gone: refused.
            var demoted = Tokens.Create(name: "Demoted", lifetime: TimeSpan.FromMinutes(10));
            await client.SendAsync($"42/admin,1[\"auth:refresh\",\"{demoted}\"]");
            Assert.Equal("43/admin,1[{\"ok\":false,\"code\":\"forbidden\"}]", await client.NextTextAsync());

            // Another user's token is a sub mismatch, whatever that user's claims.
            await client.SendAsync($"42/admin,2[\"auth:refresh\",\"{Tokens.Create(sub: "eve", extra: Gold)}\"]");
            Assert.Equal("43/admin,2[{\"ok\":false,\"code\":\"sub_mismatch\"}]", await client.NextTextAsync());

            // The socket keeps its old identity (name and claims) ...
            await client.SendAsync("42/admin,3[\"whoami\"]");
            Assert.Equal("43/admin,3[{\"sub\":\"alice\",\"name\":\"Alice\"}]", await client.NextTextAsync());
            await client.SendAsync("42/admin,4[\"vip\"]");
            Assert.Equal("43/admin,4[\"welcome, vip\"]", await client.NextTextAsync());

            // ... until its old exp: the refused token's ten minutes were never granted.
            Assert.Equal("42/admin,[\"auth:expired\",{\"code\":\"token_expired\"}]", await client.NextTextAsync());
            Assert.Equal("41/admin,", await client.NextTextAsync());
        }
    }

    [Fact]
    public async Task Refresh_with_a_token_that_still_passes_the_namespace_policy_is_accepted()
    {
        await using var server = await AuthTestServer.StartAsync();
        var (client, reply) = await server.ConnectWithAuthAsync(new { token = Tokens.Create(extra: Gold) }, "/admin");
        using (client)
        {
            Assert.StartsWith("40/admin,{", reply);
            var renewed = Tokens.Create(name: "Alice, renewed", lifetime: TimeSpan.FromMinutes(20), extra: Gold);
            var exp = new DateTimeOffset(new Microsoft.IdentityModel.JsonWebTokens.JsonWebToken(renewed).ValidTo).ToUnixTimeMilliseconds();
            await client.SendAsync($"42/admin,1[\"auth:refresh\",\"{renewed}\"]");
            Assert.Equal($"43/admin,1[{{\"ok\":true,\"expiresAt\":{exp}}}]", await client.NextTextAsync());
            await client.SendAsync("42/admin,2[\"whoami\"]");
            Assert.Equal("43/admin,2[{\"sub\":\"alice\",\"name\":\"Alice, renewed\"}]", await client.NextTextAsync());
        }
    }
}

public class RevocationTests
{
    [Fact]
    public async Task Revoking_a_session_or_a_user_disconnects_exactly_their_sockets()
    {
        await using var server = await AuthTestServer.StartAsync();
        var (first, _) = await server.ConnectWithAuthAsync(new { token = Tokens.Create(sid: "s1") });
        var (second, _) = await server.ConnectWithAuthAsync(new { token = Tokens.Create(sid: "s2") });
        var (other, _) = await server.ConnectWithAuthAsync(new { token = Tokens.Create(sub: "bob", sid: "s3") });
        using (first)
        using (second)
        using (other)
        {
            Assert.Equal(1, server.Sockets.RevokeSession("s1"));
            await first.AssertRevokedAsync();

            await second.SendAsync("421[\"whoami\"]");
            Assert.StartsWith("431[", await second.NextTextAsync());

            Assert.Equal(1, server.Sockets.RevokeUser("alice"));
            await second.AssertRevokedAsync();

            await other.SendAsync("421[\"whoami\"]");
            Assert.StartsWith("431[{\"sub\":\"bob\"", await other.NextTextAsync());
        }
    }

    [Fact]
    public async Task Revoked_token_is_refused_at_the_next_handshake()
    {
        var revoked = new HashSet<string> { "dead-session" };
        await using var server = await AuthTestServer.StartAsync(services: s => s.AddSingleton<IAccessTokenRevocation>(new SetRevocation(revoked)));
        var (client, reply) = await server.ConnectWithAuthAsync(new { token = Tokens.Create(sid: "dead-session") });
        using (client)
        {
            Assert.Equal("44{\"message\":\"Authentication error: Token revoked\",\"data\":{\"code\":\"token_revoked\",\"retryable\":false}}", reply);
        }
    }

    private sealed class SetRevocation(HashSet<string> sessions) : IAccessTokenRevocation
    {
        public ValueTask<bool> IsRevokedAsync(System.Security.Claims.ClaimsPrincipal user, CancellationToken cancellationToken = default) =>
            ValueTask.FromResult(user.FindFirst("sid") is { } sid && sessions.Contains(sid.Value));
    }
}
