using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.IdentityModel.Tokens;

namespace Tessera.Auth.Tests;

/// <summary>Token sources and refusals at the Socket.IO handshake, over a raw WebSocket.</summary>
public class HandshakeAuthTests
{
    private static async Task<JsonElement> WhoAmIAsync(RawClient client, string nsp = "")
    {
        var prefix = nsp.Length > 0 ? nsp + "," : string.Empty;
        await client.SendAsync("42" + prefix + "1[\"whoami\"]");
        var reply = await client.NextTextAsync();
        Assert.StartsWith("43" + prefix + "1[", reply);
        return JsonDocument.Parse(reply[(4 + prefix.Length - 1)..]).RootElement[0];
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Token_in_auth_payload_connects_and_sets_the_user(bool bearerPrefix)
    {
        await using var server = await AuthTestServer.StartAsync();
        var token = Tokens.Create();
        var (client, reply) = await server.ConnectWithAuthAsync(new { token = bearerPrefix ? "Bearer " + token : token });
        using (client)
        {
            Assert.StartsWith("40{\"sid\":", reply);
            var me = await WhoAmIAsync(client);
            Assert.Equal("alice", me.GetProperty("sub").GetString());
            Assert.Equal("Alice", me.GetProperty("name").GetString());
        }
        server.AssertNoTokenLogged(token);
    }

    [Fact]
    public async Task Token_in_authorization_header_cookie_and_query_are_accepted()
    {
        await using var server = await AuthTestServer.StartAsync();
        var token = Tokens.Create(sub: "bob", name: "Bob");
        var variants = new (string Query, Action<System.Net.WebSockets.ClientWebSocketOptions>? Configure)[]
        {
            ("", o => o.SetRequestHeader("Authorization", "Bearer " + token)),
            ("", o => o.SetRequestHeader("Cookie", "other=1; access_token=" + token)),
            ("&token=" + token, null),
        };
        foreach (var (query, configure) in variants)
        {
            using var client = await server.ConnectRawAsync(query, configure);
            await client.SendAsync("40");
            Assert.StartsWith("40{\"sid\":", await client.NextTextAsync());
            Assert.Equal("bob", (await WhoAmIAsync(client)).GetProperty("sub").GetString());
        }
        server.AssertNoTokenLogged(token);
    }

    [Fact]
    public async Task Auth_payload_wins_over_header_and_empty_values_count_as_absent()
    {
        await using var server = await AuthTestServer.StartAsync();
        var header = Tokens.Create(sub: "from-header");
        using var client = await server.ConnectRawAsync("", o => o.SetRequestHeader("Authorization", "Bearer " + header));
        await client.SendAsync("40{\"token\":\"\"}");
        Assert.StartsWith("40{", await client.NextTextAsync());
        Assert.Equal("from-header", (await WhoAmIAsync(client)).GetProperty("sub").GetString());

        await client.SendAsync("40/admin,{\"token\":\"" + Tokens.Create(sub: "from-auth", extra: new Dictionary<string, object> { ["tier"] = "gold" }) + "\"}");
        Assert.StartsWith("40/admin,", await client.NextTextAsync());
        Assert.Equal("from-auth", (await WhoAmIAsync(client, "/admin")).GetProperty("sub").GetString());
    }

    [Fact]
    public async Task Query_token_is_refused_when_disallowed()
    {
        await using var server = await AuthTestServer.StartAsync(o => o.AllowQueryToken = false);
        using var client = await server.ConnectRawAsync("&token=" + Tokens.Create());
        await client.SendAsync("40");
        Assert.Equal("44{\"message\":\"Authentication error: Token missing\",\"data\":{\"code\":\"token_missing\",\"retryable\":false}}", await client.NextTextAsync());
    }

    [Fact]
    public async Task Missing_invalid_and_expired_tokens_get_their_exact_message_and_code()
    {
        await using var server = await AuthTestServer.StartAsync(o => o.ClockSkew = TimeSpan.Zero);
        var cases = new (object? Auth, string Expected)[]
        {
            (null, "44{\"message\":\"Authentication error: Token missing\",\"data\":{\"code\":\"token_missing\",\"retryable\":false}}"),
            (new { token = "not-a-jwt" }, "44{\"message\":\"Authentication error: Invalid token\",\"data\":{\"code\":\"token_invalid\",\"retryable\":false}}"),
            (new { token = Tokens.Create(lifetime: TimeSpan.FromSeconds(-5), notBefore: DateTime.UtcNow.AddMinutes(-1)) },
                "44{\"message\":\"Authentication error: Token expired\",\"data\":{\"code\":\"token_expired\",\"retryable\":true}}"),
        };
        foreach (var (auth, expected) in cases)
        {
            var (client, reply) = await server.ConnectWithAuthAsync(auth);
            using (client)
            {
                Assert.Equal(expected, reply);
            }
        }
        Assert.Equal(0, server.Connections);
    }

    public static TheoryData<string, string> Attacks()
    {
        var secret = Encoding.UTF8.GetBytes(Tokens.Secret);
        var valid = Tokens.Create(sub: "mallory");
        var parts = valid.Split('.');
        var rsaPublicPem = Encoding.ASCII.GetBytes(Tokens.Rsa.ExportSubjectPublicKeyInfoPem());
        var rsaPublicDer = Tokens.Rsa.ExportSubjectPublicKeyInfo();
        using var attackerRsa = RSA.Create(2048);
        var attackerCredentials = new SigningCredentials(new RsaSecurityKey(attackerRsa.ExportParameters(true)) { KeyId = "attacker" }, SecurityAlgorithms.RsaSha256);
        var tamperedPayload = parts[0] + "." + Tokens.B64(Encoding.UTF8.GetString(Base64UrlEncoder.DecodeBytes(parts[1])).Replace("mallory", "admin")) + "." + parts[2];
        var signature = Base64UrlEncoder.DecodeBytes(parts[2]);
        signature[0] ^= 0xFF;
        return new TheoryData<string, string>
        {
            { "alg none", Tokens.B64("{\"alg\":\"none\",\"typ\":\"at+jwt\"}") + "." + Tokens.B64(Tokens.Payload()) + "." },
            { "HS256 signed with the RSA public key (PEM)", Tokens.Forge("{\"alg\":\"HS256\",\"typ\":\"at+jwt\",\"kid\":\"rsa-1\"}", Tokens.Payload(), rsaPublicPem) },
            { "HS256 signed with the RSA public key (DER)", Tokens.Forge("{\"alg\":\"HS256\",\"typ\":\"at+jwt\"}", Tokens.Payload(), rsaPublicDer) },
            { "tampered payload", tamperedPayload },
            { "tampered signature", parts[0] + "." + parts[1] + "." + Base64UrlEncoder.Encode(signature) },
            { "truncated", valid[..(valid.Length / 2)] },
            { "not base64", "%%%.$$$.###" },
            { "9 KB token", Tokens.Create(extra: new Dictionary<string, object> { ["pad"] = new string('x', 9 * 1024) }) },
            { "wrong iss", Tokens.Create(issuer: "someone-else") },
            { "wrong aud", Tokens.Create(audience: "another-api") },
            { "nbf in the future", Tokens.Create(notBefore: DateTime.UtcNow.AddMinutes(5)) },
            { "missing exp", Tokens.Forge("{\"alg\":\"HS256\",\"typ\":\"at+jwt\"}", "{\"sub\":\"mallory\",\"iss\":\"tessera\",\"aud\":\"tessera\"}", secret) },
            { "kid path traversal", Tokens.Forge("{\"alg\":\"HS256\",\"typ\":\"at+jwt\",\"kid\":\"../../etc/passwd\"}", Tokens.Payload(), Encoding.UTF8.GetBytes("")) },
            { "jku pointing elsewhere", Tokens.Create(credentials: attackerCredentials, header: new Dictionary<string, object> { ["jku"] = "http://127.0.0.1:9/jwks.json", ["x5u"] = "http://127.0.0.1:9/cert.pem" }) },
            { "embedded jwk", Tokens.Forge("{\"alg\":\"HS256\",\"typ\":\"at+jwt\",\"jwk\":{\"kty\":\"oct\",\"k\":\"" + Tokens.B64(Encoding.UTF8.GetBytes("attacker-secret-attacker-secret-32")) + "\"}}", Tokens.Payload(), Encoding.UTF8.GetBytes("attacker-secret-attacker-secret-32")) },
            { "refresh token offered as access token", Tokens.Create(type: "refresh+jwt") },
            { "opaque refresh token", Base64UrlEncoder.Encode(RandomNumberGenerator.GetBytes(32)) },
            { "id token type", Tokens.Create(type: "JWT") },
            // RFC 7515 §4.1.11: extensions listed in crit must be understood, and Tessera understands none.
            // Microsoft.IdentityModel (8.x) ignores crit, so these verify there; Tessera refuses them itself.
            { "crit naming an unknown extension", Tokens.Forge("{\"alg\":\"HS256\",\"typ\":\"at+jwt\",\"crit\":[\"urn:x-must-understand\"],\"urn:x-must-understand\":true}", Tokens.Payload(), secret) },
            { "crit b64 (RFC 7797)", Tokens.Forge("{\"alg\":\"HS256\",\"typ\":\"at+jwt\",\"b64\":false,\"crit\":[\"b64\"]}", Tokens.Payload(), secret) },
            { "crit empty", Tokens.Forge("{\"alg\":\"HS256\",\"typ\":\"at+jwt\",\"crit\":[]}", Tokens.Payload(), secret) },
            { "crit as a string", Tokens.Forge("{\"alg\":\"HS256\",\"typ\":\"at+jwt\",\"crit\":\"exp\"}", Tokens.Payload(), secret) },
            { "crit minted by IdentityModel", Tokens.Create(header: new Dictionary<string, object> { ["crit"] = new[] { "urn:x-ext" }, ["urn:x-ext"] = 1 }) },
        };
    }

    [Theory]
    [MemberData(nameof(Attacks))]
    public async Task Forged_or_misused_tokens_are_refused_and_reach_no_handler(string attack, string token)
    {
        await using var server = await AuthTestServer.StartAsync();
        var (client, reply) = await server.ConnectWithAuthAsync(new { token });
        using (client)
        {
            Assert.True(
                reply == "44{\"message\":\"Authentication error: Invalid token\",\"data\":{\"code\":\"token_invalid\",\"retryable\":false}}",
                $"{attack}: {reply}");
            // The connection stays usable for a proper token; nothing ran for the forged one.
            await client.SendAsync("42[\"whoami\"]");
            await client.AssertClosedAsync();
        }
        Assert.Equal(0, server.Connections);
        Assert.Empty(server.HandlersRun);
        server.AssertNoTokenLogged(token);
    }

    [Fact]
    public async Task Hand_forged_tokens_without_crit_verify_so_the_crit_refusals_are_about_crit()
    {
        // The control for the crit attacks above: the same forging, the same key, no crit header.
        await using var server = await AuthTestServer.StartAsync();
        var token = Tokens.Forge("{\"alg\":\"HS256\",\"typ\":\"at+jwt\",\"urn:x-must-understand\":true}", Tokens.Payload(), Encoding.UTF8.GetBytes(Tokens.Secret));
        var (client, reply) = await server.ConnectWithAuthAsync(new { token });
        using (client)
        {
            Assert.StartsWith("40{", reply);
            Assert.Equal("mallory", (await WhoAmIAsync(client)).GetProperty("sub").GetString());
        }
    }

    [Fact]
    public async Task Expired_beyond_skew_is_refused_as_expired_but_within_skew_is_accepted()
    {
        await using var server = await AuthTestServer.StartAsync(o => o.ClockSkew = TimeSpan.FromSeconds(30));
        var withinSkew = Tokens.Create(lifetime: TimeSpan.FromSeconds(-10), notBefore: DateTime.UtcNow.AddMinutes(-5));
        var (ok, okReply) = await server.ConnectWithAuthAsync(new { token = withinSkew });
        using (ok)
        {
            Assert.StartsWith("40{", okReply);
        }
        var pastSkew = Tokens.Create(lifetime: TimeSpan.FromSeconds(-60), notBefore: DateTime.UtcNow.AddMinutes(-5));
        var (late, lateReply) = await server.ConnectWithAuthAsync(new { token = pastSkew });
        using (late)
        {
            Assert.Contains("\"code\":\"token_expired\"", lateReply);
        }
    }

    [Fact]
    public async Task Rs256_and_es256_tokens_verify_against_configured_public_keys()
    {
        await using var server = await AuthTestServer.StartAsync();
        var rs = Tokens.Create(sub: "rsa-user", credentials: new SigningCredentials(new RsaSecurityKey(Tokens.Rsa) { KeyId = "rsa-1" }, SecurityAlgorithms.RsaSha256));
        var es = Tokens.Create(sub: "ec-user", credentials: new SigningCredentials(new ECDsaSecurityKey(Tokens.Ecdsa) { KeyId = "ec-1" }, SecurityAlgorithms.EcdsaSha256));
        foreach (var (token, sub) in new[] { (rs, "rsa-user"), (es, "ec-user") })
        {
            var (client, reply) = await server.ConnectWithAuthAsync(new { token });
            using (client)
            {
                Assert.StartsWith("40{", reply);
                Assert.Equal(sub, (await WhoAmIAsync(client)).GetProperty("sub").GetString());
            }
        }
    }

    [Fact]
    public async Task Anonymous_namespaces_need_no_token()
    {
        await using var server = await AuthTestServer.StartAsync();
        using var client = await server.ConnectRawAsync();
        await client.SendAsync("40/public,");
        Assert.StartsWith("40/public,{", await client.NextTextAsync());
        var me = await WhoAmIAsync(client, "/public");
        Assert.Equal(JsonValueKind.Null, me.GetProperty("sub").ValueKind);
    }

    [Fact]
    public async Task Each_socket_joins_its_user_room()
    {
        await using var server = await AuthTestServer.StartAsync();
        var (client, _) = await server.ConnectWithAuthAsync(new { token = Tokens.Create(sub: "carol") });
        using (client)
        {
            server.Io.To("user:carol").Emit("direct", "hi carol");
            Assert.Equal("42[\"direct\",\"hi carol\"]", await client.NextTextAsync());
        }
    }

    [Fact]
    public async Task A_token_seen_again_is_not_verified_twice()
    {
        await using var server = await AuthTestServer.StartAsync();
        var token = Tokens.Create();
        for (var i = 0; i < 3; i++)
        {
            var (client, reply) = await server.ConnectWithAuthAsync(new { token });
            using (client)
            {
                Assert.StartsWith("40{", reply);
            }
        }
        Assert.Equal(1, server.Verifications);
    }

    [Fact]
    public async Task Cache_size_zero_verifies_every_time()
    {
        await using var server = await AuthTestServer.StartAsync(o => o.CacheSize = 0);
        var token = Tokens.Create();
        for (var i = 0; i < 3; i++)
        {
            var (client, reply) = await server.ConnectWithAuthAsync(new { token });
            using (client)
            {
                Assert.StartsWith("40{", reply);
            }
        }
        Assert.Equal(3, server.Verifications);
    }

    [Theory]
    [InlineData("issuer", "AllowAnyIssuer")]
    [InlineData("audience", "AllowAnyAudience")]
    public async Task An_unset_issuer_or_audience_refuses_to_start_unless_any_is_explicitly_allowed(string which, string option)
    {
        var error = await Assert.ThrowsAnyAsync<Exception>(() => AuthTestServer.StartAsync(o =>
        {
            if (which == "issuer")
            {
                o.Issuer = null;
            }
            else
            {
                o.Audience = null;
            }
        }));
        Assert.Contains(option + " = true", error.ToString());
    }

    [Fact]
    public async Task Any_issuer_and_audience_when_explicitly_allowed()
    {
        await using var server = await AuthTestServer.StartAsync(o =>
        {
            o.Issuer = null;
            o.Audience = null;
            o.AllowAnyIssuer = true;
            o.AllowAnyAudience = true;
        });
        foreach (var token in new[] { Tokens.Create(issuer: "anyone", audience: "anything"), Tokens.Create(issuer: null, audience: null) })
        {
            var (client, reply) = await server.ConnectWithAuthAsync(new { token });
            using (client)
            {
                Assert.StartsWith("40{", reply);
            }
        }
    }

    [Fact]
    public async Task Allowing_any_issuer_or_audience_never_loosens_a_configured_one()
    {
        await using var server = await AuthTestServer.StartAsync(o =>
        {
            o.AllowAnyIssuer = true;
            o.AllowAnyAudience = true;
        });
        foreach (var token in new[] { Tokens.Create(issuer: "someone-else"), Tokens.Create(audience: "another-api") })
        {
            var (client, reply) = await server.ConnectWithAuthAsync(new { token });
            using (client)
            {
                Assert.Contains("\"code\":\"token_invalid\"", reply);
            }
        }
    }

    [Fact]
    public async Task Short_hmac_secret_refuses_to_start_with_a_clear_message()
    {
        var error = await Assert.ThrowsAnyAsync<Exception>(() => AuthTestServer.StartAsync(o =>
        {
            o.SigningKeys.Clear();
            o.AddHmacSecret("too-short");
        }));
        Assert.Contains("at least 32 bytes", error.ToString());
    }
}
