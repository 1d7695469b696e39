using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Tessera.Accounts.Internal;

namespace Tessera.Accounts.Tests;

/// <summary>
/// CONTRACT §6: ES256 / RS256 tokens carry the kid of a published key; outside verifiers (JwtBearer with Authority, jose's
/// createRemoteJWKSet) accept them; keys rotate without disconnecting anyone; nodes on one PostgreSQL database agree.
/// </summary>
public class SigningKeyTests
{
    private static async Task<JsonElement> GetJsonAsync(AccountsTestServer server, string path)
    {
        using var response = await server.Http.GetAsync(path);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    private static List<string> PublishedKids(JsonElement jwks) =>
        jwks.GetProperty("keys").EnumerateArray().Select(k => k.GetProperty("kid").GetString()!).ToList();

    private static string Kid(string token) => new JsonWebToken(token).Kid;

    /// <summary>A token as a forger would make it: same claims, signed by a key of their own with a kid of their own.</summary>
    private static string Forged(string token)
    {
        var original = new JsonWebToken(token);
        var key = new ECDsaSecurityKey(ECDsa.Create(ECCurve.NamedCurves.nistP256)) { KeyId = "forged" };
        return new JsonWebTokenHandler().CreateToken(original.EncodedPayload.Length > 0
            ? System.Text.Encoding.UTF8.GetString(Base64UrlEncoder.DecodeBytes(original.EncodedPayload))
            : "{}", new SigningCredentials(key, SecurityAlgorithms.EcdsaSha256), new Dictionary<string, object> { ["typ"] = "at+jwt" });
    }

    /// <summary>The token with one payload character changed: its signature no longer matches.</summary>
    private static string Tampered(string token)
    {
        var parts = token.Split('.');
        var payload = JsonSerializer.Deserialize<Dictionary<string, JsonElement>>(Base64UrlEncoder.DecodeBytes(parts[1]))!;
        payload["sub"] = JsonSerializer.SerializeToElement("someone-else");
        return parts[0] + "." + Base64UrlEncoder.Encode(JsonSerializer.SerializeToUtf8Bytes(payload)) + "." + parts[2];
    }

    [Fact]
    public async Task Es256_tokens_name_a_published_kid_and_an_api_with_JwtBearer_Authority_accepts_them()
    {
        var postgres = await PostgresServer.SharedAsync();
        await using var tessera = await AccountsTestServer.StartAsync(o => o.SigningAlgorithm = "ES256", postgres: await postgres.CreateDatabaseAsync());
        var id = await tessera.RegisterAsync("alice");
        var (token, _) = await tessera.LoginAsync("alice");
        var header = new JsonWebToken(token);
        Assert.Equal("ES256", header.Alg);
        Assert.Equal("at+jwt", header.Typ);

        var jwks = await GetJsonAsync(tessera, "/.well-known/jwks.json");
        var key = Assert.Single(jwks.GetProperty("keys").EnumerateArray());
        Assert.Equal(Kid(token), key.GetProperty("kid").GetString());
        Assert.Equal(("EC", "ES256", "sig", "P-256"), (key.GetProperty("kty").GetString(), key.GetProperty("alg").GetString(), key.GetProperty("use").GetString(), key.GetProperty("crv").GetString()));
        Assert.False(key.TryGetProperty("d", out _), "the private key must never be published");
        var discovery = await GetJsonAsync(tessera, "/.well-known/openid-configuration");
        Assert.Equal("tessera", discovery.GetProperty("issuer").GetString());
        Assert.Equal(tessera.BaseUrl + "/.well-known/jwks.json", discovery.GetProperty("jwks_uri").GetString());

        // Another service: plain ASP.NET Core JwtBearer pointed at the Tessera node, nothing shared but the URL.
        var (api, apiUrl) = await LoopbackApp.StartAsync(
            builder =>
            {
                builder.Services.AddAuthentication(JwtBearerDefaults.AuthenticationScheme).AddJwtBearer(o =>
                {
                    o.Authority = tessera.BaseUrl;
                    o.RequireHttpsMetadata = false;
                    o.Audience = "tessera";
                    o.MapInboundClaims = false;
                });
                builder.Services.AddAuthorization();
            },
            app =>
            {
                app.UseAuthentication();
                app.UseAuthorization();
                app.MapGet("/me", (HttpContext context) => Results.Json(new { sub = context.User.FindFirst("sub")?.Value })).RequireAuthorization();
            });
        await using var apiApp = api;
        using var http = new HttpClient { BaseAddress = new Uri(apiUrl) };
        async Task<HttpResponseMessage> MeAsync(string bearer)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/me");
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
            return await http.SendAsync(request);
        }
        using (var ok = await MeAsync(token))
        {
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
            Assert.Equal(id, (await ok.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("sub").GetString());
        }
        using (var tampered = await MeAsync(Tampered(token)))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, tampered.StatusCode);
        }
        using (var forged = await MeAsync(Forged(token)))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, forged.StatusCode);
        }
        // And the Socket.IO handshake of the node itself accepts it.
        using var socket = await tessera.ConnectAsync(token);
    }

    [Fact]
    public async Task Rs256_tokens_verify_with_jose_from_the_published_jwks()
    {
        await using var tessera = await AccountsTestServer.StartAsync(o => o.SigningAlgorithm = "RS256");
        var id = await tessera.RegisterAsync("bob");
        var (token, _) = await tessera.LoginAsync("bob");
        var summary = await NodeInterop.RunAsync("jwks.mjs", [tessera.BaseUrl], null, new Dictionary<string, string>
        {
            ["TESSERA_TOKENS"] = JsonSerializer.Serialize(new { valid = token, tampered = Tampered(token), foreign = Forged(token) }),
        });
        Assert.Equal(id, summary.GetProperty("sub").GetString());
        Assert.Equal("RS256", summary.GetProperty("alg").GetString());
        Assert.Equal(Kid(token), summary.GetProperty("kid").GetString());
        Assert.Equal("ERR_JWS_SIGNATURE_VERIFICATION_FAILED", summary.GetProperty("refusals").GetProperty("tampered").GetString());
        Assert.Equal("ERR_JWKS_NO_MATCHING_KEY", summary.GetProperty("refusals").GetProperty("foreign").GetString());
    }

    [Fact]
    public async Task Hs256_publishes_no_keys()
    {
        await using var tessera = await AccountsTestServer.StartAsync();
        using var jwks = await tessera.Http.GetAsync("/.well-known/jwks.json");
        using var discovery = await tessera.Http.GetAsync("/.well-known/openid-configuration");
        Assert.Equal(HttpStatusCode.NotFound, jwks.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, discovery.StatusCode);
    }

    [Fact]
    public async Task Two_nodes_on_one_database_with_separate_data_directories_serve_one_user_base()
    {
        var postgres = await PostgresServer.SharedAsync();
        var database = await postgres.CreateDatabaseAsync();
        await using var a = await AccountsTestServer.StartAsync(o => o.SigningAlgorithm = "ES256", postgres: database);
        await using var b = await AccountsTestServer.StartAsync(o => o.SigningAlgorithm = "ES256", postgres: database);
        Assert.NotEqual(a.DataDirectory, b.DataDirectory);
        var id = await a.RegisterAsync("carol");
        var (fromB, refreshFromB) = await b.LoginAsync("carol");
        Assert.Equal(PublishedKids(await GetJsonAsync(a, "/.well-known/jwks.json")), PublishedKids(await GetJsonAsync(b, "/.well-known/jwks.json")));
        using (var socket = await a.ConnectAsync(fromB))
        {
            await socket.SendAsync("420[\"whoami\"]");
            Assert.Equal($"430[{{\"sub\":\"{id}\",\"name\":\"carol\"}}]", await socket.NextTextAsync());
        }
        // A refresh token from one node rotates on the other, and its reuse there is seen on the first.
        using var refreshed = await a.PostJsonAsync("/auth/refresh", new { refreshToken = refreshFromB });
        Assert.Equal(HttpStatusCode.OK, refreshed.StatusCode);
        using var reused = await b.PostJsonAsync("/auth/refresh", new { refreshToken = refreshFromB });
        Assert.Equal(HttpStatusCode.Unauthorized, reused.StatusCode);
        Assert.Equal("refresh_reused", (await reused.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("code").GetString());
    }

    [Fact]
    public async Task Generated_private_keys_are_stored_protected_with_the_key_ring_in_the_store()
    {
        var postgres = await PostgresServer.SharedAsync();
        var database = await postgres.CreateDatabaseAsync();
        await using var tessera = await AccountsTestServer.StartAsync(o => o.SigningAlgorithm = "ES256", postgres: database);
        var store = tessera.Services.GetRequiredService<IAccountStore>();
        var stored = Assert.Single(await store.ListSigningKeysAsync());
        var bytes = Convert.FromBase64String(stored.ProtectedPrivateKey);
        using var ecdsa = ECDsa.Create();
        Assert.ThrowsAny<CryptographicException>(() => ecdsa.ImportPkcs8PrivateKey(bytes, out _));
        Assert.NotEmpty(store.GetDataProtectionKeys());
        // Nothing about the keys lives in the data directory: a node on another machine has all it needs in the database.
        Assert.False(File.Exists(Path.Combine(tessera.DataDirectory, SigningKeyFile.FileName)));
    }

    [Fact]
    public async Task A_rotation_publishes_before_signing_disconnects_nobody_and_unpublishes_only_after_the_last_token_expired()
    {
        var postgres = await PostgresServer.SharedAsync();
        // Each key signs 10 s, is published 5 s before; tokens live 3 s: a retired key stays published 3 s after its successor
        // activates. The windows are wide enough for a login (PBKDF2) on a machine whose cores are busy with other tests
        // (with 4 s and 2 s, a login under load once landed after the next key had started signing).
        await using var tessera = await AccountsTestServer.StartAsync(o =>
        {
            o.SigningAlgorithm = "ES256";
            o.KeyRotationInterval = TimeSpan.FromSeconds(10);
            o.KeyPublicationLead = TimeSpan.FromSeconds(5);
            o.AccessTokenLifetime = TimeSpan.FromSeconds(3);
        }, postgres: await postgres.CreateDatabaseAsync(), jwt: o => o.ExpiryWarning = TimeSpan.FromSeconds(1));
        var ring = tessera.Services.GetRequiredService<SigningKeyRing>();
        var tokens = tessera.Services.GetRequiredService<TokenService>();
        var id = await tessera.RegisterAsync("dave");
        var (login, _) = await tessera.LoginAsync("dave");
        var first = Kid(login);
        var sid = new JsonWebToken(login).GetClaim("sid").Value;
        // Signed by the first key, valid for a minute: outlives the rotation, so the socket stays up throughout.
        var longLived = tokens.IssueAccessToken(id, "dave", sid, TimeSpan.FromMinutes(1)).Token;
        Assert.Equal(first, Kid(longLived));
        using var socket = await tessera.ConnectAsync(longLived);

        // The next key is published while the first still signs.
        await Until(async () => PublishedKids(await GetJsonAsync(tessera, "/.well-known/jwks.json")).Count == 2);
        var published = PublishedKids(await GetJsonAsync(tessera, "/.well-known/jwks.json"));
        var second = Assert.Single(published, k => k != first);
        var (stillFirst, _) = await tessera.LoginAsync("dave");
        Assert.Equal(first, Kid(stillFirst));

        // Then it signs; the first stays published, and its tokens still open sockets.
        await Until(() => Task.FromResult(Kid(tokens.IssueAccessToken(id, "dave", sid).Token) == second));
        Assert.Contains(first, PublishedKids(await GetJsonAsync(tessera, "/.well-known/jwks.json")));
        using (var another = await tessera.ConnectAsync(longLived))
        {
        }
        var (bySecond, _) = await tessera.LoginAsync("dave");
        Assert.Equal(second, Kid(bySecond));

        // Once every token it signed under its 3 s lifetime has expired, the first key is gone, and with it its tokens.
        await Until(async () => !PublishedKids(await GetJsonAsync(tessera, "/.well-known/jwks.json")).Contains(first));
        Assert.DoesNotContain(first, ring.Keys.Select(k => k.KeyId));
        using (var late = await RawClient.ConnectAsync(tessera.BaseUrl))
        {
            await late.SendAsync("40" + JsonSerializer.Serialize(new { token = longLived }));
            var refusal = await late.NextTextAsync();
            Assert.StartsWith("44{\"message\":\"Authentication error: Invalid token\",\"data\":{\"code\":\"token_invalid\"", refusal);
        }

        // The socket that connected with it before the rotation is still there.
        await socket.SendAsync("421[\"whoami\"]");
        Assert.Equal($"431[{{\"sub\":\"{id}\",\"name\":\"dave\"}}]", await socket.NextTextAsync());
    }

    /// <summary>Polls a condition the server reaches on its own clock (key rotation), bounded: not a sleep standing in for an event.</summary>
    private static async Task Until(Func<Task<bool>> condition)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "the condition was not reached within 20 s");
            await Task.Delay(100);
        }
    }

    [Fact]
    public async Task Signing_key_files_sign_with_the_first_and_publish_every_one()
    {
        var directory = Path.Combine(Path.GetTempPath(), "tessera-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(directory);
        var paths = new List<string>();
        var kids = new List<string>();
        foreach (var name in new[] { "current", "next" })
        {
            using var ecdsa = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            var path = Path.Combine(directory, name + ".pem");
            await File.WriteAllTextAsync(path, ecdsa.ExportPkcs8PrivateKeyPem());
            paths.Add(path);
            kids.Add(Base64UrlEncoder.Encode(JsonWebKeyConverter.ConvertFromECDsaSecurityKey(new ECDsaSecurityKey(ecdsa)).ComputeJwkThumbprint()));
        }
        await using var tessera = await AccountsTestServer.StartAsync(o =>
        {
            o.SigningAlgorithm = "ES256";
            foreach (var path in paths)
            {
                o.SigningKeyFiles.Add(path);
            }
        });
        await tessera.RegisterAsync("erin");
        var (token, _) = await tessera.LoginAsync("erin");
        Assert.Equal(kids[0], Kid(token));
        Assert.Equal(kids, PublishedKids(await GetJsonAsync(tessera, "/.well-known/jwks.json")));
    }

    [Theory]
    [InlineData("public", "holds a public key only")]
    [InlineData("rsa", "holds no EC private key")]
    [InlineData("missing", "cannot read")]
    public async Task A_bad_signing_key_file_stops_the_start_with_a_clear_message(string kind, string message)
    {
        var path = Path.Combine(Path.GetTempPath(), "tessera-tests", Guid.NewGuid().ToString("N") + ".pem");
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        using (var ecdsa = ECDsa.Create(ECCurve.NamedCurves.nistP256))
        using (var rsa = RSA.Create(2048))
        {
            switch (kind)
            {
                case "public":
                    await File.WriteAllTextAsync(path, ecdsa.ExportSubjectPublicKeyInfoPem());
                    break;
                case "rsa":
                    await File.WriteAllTextAsync(path, rsa.ExportPkcs8PrivateKeyPem());
                    break;
            }
        }
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => AccountsTestServer.StartAsync(o =>
        {
            o.SigningAlgorithm = "ES256";
            o.SigningKeyFiles.Add(path);
        }));
        Assert.Contains(message, error.Message);
        Assert.Contains(path, error.Message);
    }

    [Theory]
    [InlineData("HS512")]
    [InlineData("none")]
    public void An_unknown_signing_algorithm_is_a_configuration_error(string algorithm)
    {
        var result = new AccountOptionsValidation().Validate(null, new AccountOptions { SigningAlgorithm = algorithm });
        Assert.True(result.Failed);
        Assert.Contains("HS256, ES256 or RS256", result.FailureMessage);
    }
}
