using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Tessera.Accounts;
using Tessera.Accounts.Internal;

namespace Tessera.Accounts.Tests;

public class AccountsTests
{
    private static async Task<JsonElement> JsonAsync(HttpResponseMessage response) => await response.Content.ReadFromJsonAsync<JsonElement>();

    [Fact]
    public async Task Register_login_connect_and_whoami_returns_the_user()
    {
        await using var server = await AccountsTestServer.StartAsync();
        var id = await server.RegisterAsync("alice");
        using var login = await server.PostJsonAsync("/auth/login", new { username = "alice", password = "correct horse battery" });
        Assert.Equal(HttpStatusCode.OK, login.StatusCode);
        var body = await JsonAsync(login);
        Assert.Equal(["token", "tokenType", "expiresIn", "refreshToken"], body.EnumerateObject().Select(p => p.Name));
        Assert.Equal("Bearer", body.GetProperty("tokenType").GetString());
        Assert.Equal(900, body.GetProperty("expiresIn").GetInt32());
        var cookie = login.Headers.GetValues("Set-Cookie").Single();
        Assert.StartsWith("refresh_token=" + body.GetProperty("refreshToken").GetString() + ";", cookie);
        Assert.Contains("httponly", cookie, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("samesite=strict", cookie, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("path=/auth", cookie, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("max-age=1209600", cookie, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("secure", cookie.Replace("samesite", "", StringComparison.OrdinalIgnoreCase), StringComparison.OrdinalIgnoreCase);

        var jwt = new Microsoft.IdentityModel.JsonWebTokens.JsonWebToken(body.GetProperty("token").GetString());
        Assert.Equal("at+jwt", jwt.Typ);
        Assert.Equal(id, jwt.Subject);
        foreach (var claim in new[] { "name", "jti", "sid", "iat", "exp", "iss", "aud" })
        {
            Assert.True(jwt.TryGetPayloadValue<object>(claim, out _), claim);
        }

        using var client = await server.ConnectAsync(body.GetProperty("token").GetString()!);
        await client.SendAsync("421[\"whoami\"]");
        Assert.Equal($"431[{{\"sub\":\"{id}\",\"name\":\"alice\"}}]", await client.NextTextAsync());
    }

    [Theory]
    [InlineData("websocket")]
    [InlineData("polling")]
    public async Task Logout_reaches_the_official_clients_socket(string transport)
    {
        await using var server = await AccountsTestServer.StartAsync();
        await server.RegisterAsync("node-user");
        var (token, _) = await server.LoginAsync("node-user");
        var tokens = JsonSerializer.Serialize(new { valid = token });
        var summary = await NodeInterop.RunAsync("auth.mjs", ["revoked-" + transport, server.BaseUrl], async line =>
        {
            if (line.Trim() == "READY")
            {
                using var logout = await server.PostJsonAsync("/auth/logout", null, bearer: token);
                Assert.Equal(HttpStatusCode.NoContent, logout.StatusCode);
            }
        }, new Dictionary<string, string> { ["TESSERA_TOKENS"] = tokens });
        Assert.True(summary.GetProperty("ok").GetBoolean());
    }

    [Fact]
    public async Task Wrong_password_and_unknown_user_get_the_same_401()
    {
        await using var server = await AccountsTestServer.StartAsync();
        await server.RegisterAsync("bob");
        foreach (var (username, password) in new[] { ("bob", "wrong password"), ("nobody", "whatever it is") })
        {
            using var response = await server.PostJsonAsync("/auth/login", new { username, password });
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            Assert.Equal("{\"message\":\"Invalid credentials\"}", await response.Content.ReadAsStringAsync());
        }
    }

    [Fact]
    public async Task Refresh_rotates_and_reuse_revokes_the_session_and_its_sockets()
    {
        await using var server = await AccountsTestServer.StartAsync();
        await server.RegisterAsync("carol");
        var (token, refresh) = await server.LoginAsync("carol");
        using var socket = await server.ConnectAsync(token);

        using var first = await server.PostJsonAsync("/auth/refresh", new { refreshToken = refresh });
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        var rotated = await JsonAsync(first);
        var newRefresh = rotated.GetProperty("refreshToken").GetString()!;
        Assert.NotEqual(refresh, newRefresh);
        // Same session across refreshes.
        Assert.Equal(
            new Microsoft.IdentityModel.JsonWebTokens.JsonWebToken(token).GetClaim("sid").Value,
            new Microsoft.IdentityModel.JsonWebTokens.JsonWebToken(rotated.GetProperty("token").GetString()).GetClaim("sid").Value);

        using var reuse = await server.PostJsonAsync("/auth/refresh", new { refreshToken = refresh });
        Assert.Equal(HttpStatusCode.Unauthorized, reuse.StatusCode);
        Assert.Equal("refresh_reused", (await JsonAsync(reuse)).GetProperty("code").GetString());
        await socket.AssertRevokedAsync();

        using var dead = await server.PostJsonAsync("/auth/refresh", new { refreshToken = newRefresh });
        Assert.Equal(HttpStatusCode.Unauthorized, dead.StatusCode);
        Assert.Equal("refresh_invalid", (await JsonAsync(dead)).GetProperty("code").GetString());

        // The revoked session's access token no longer opens a socket, though it has not expired.
        using var again = await RawClient.ConnectAsync(server.BaseUrl);
        await again.SendAsync("40" + JsonSerializer.Serialize(new { token }));
        Assert.Contains("\"code\":\"token_revoked\"", await again.NextTextAsync());
    }

    [Theory]
    [InlineData("")]
    [InlineData("{}")]
    public async Task Refresh_reads_the_cookie_when_the_body_is_empty(string body)
    {
        await using var server = await AccountsTestServer.StartAsync();
        await server.RegisterAsync("dave");
        var (_, refresh) = await server.LoginAsync("dave");
        // An empty body too is labelled application/json (without, 415: see HardeningTests).
        using var response = await server.PostJsonAsync("/auth/refresh", body, cookie: "refresh_token=" + refresh);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.StartsWith("refresh_token=", response.Headers.GetValues("Set-Cookie").Single());
    }

    [Fact]
    public async Task Unknown_and_expired_refresh_tokens_are_refused_with_their_codes()
    {
        await using var server = await AccountsTestServer.StartAsync(o => o.RefreshTokenLifetime = TimeSpan.FromMilliseconds(1));
        await server.RegisterAsync("erin");
        var (_, refresh) = await server.LoginAsync("erin");
        using var unknown = await server.PostJsonAsync("/auth/refresh", new { refreshToken = "not-a-token" });
        Assert.Equal("refresh_invalid", (await JsonAsync(unknown)).GetProperty("code").GetString());
        using var expired = await server.PostJsonAsync("/auth/refresh", new { refreshToken = refresh });
        Assert.Equal(HttpStatusCode.Unauthorized, expired.StatusCode);
        Assert.Equal("refresh_expired", (await JsonAsync(expired)).GetProperty("code").GetString());
    }

    [Fact]
    public async Task Logout_disconnects_that_session_only_and_logout_all_every_session()
    {
        await using var server = await AccountsTestServer.StartAsync();
        await server.RegisterAsync("frank");
        var (tokenA, _) = await server.LoginAsync("frank");
        var (tokenB, _) = await server.LoginAsync("frank");
        var (tokenC, _) = await server.LoginAsync("frank");
        using var a = await server.ConnectAsync(tokenA);
        using var b = await server.ConnectAsync(tokenB);
        using var c = await server.ConnectAsync(tokenC);

        using (var logout = await server.PostJsonAsync("/auth/logout", null, bearer: tokenA))
        {
            Assert.Equal(HttpStatusCode.NoContent, logout.StatusCode);
        }
        await a.AssertRevokedAsync();
        await b.SendAsync("421[\"whoami\"]");
        Assert.StartsWith("431[", await b.NextTextAsync());

        using (var all = await server.PostJsonAsync("/auth/logout-all", null, bearer: tokenB))
        {
            Assert.Equal(HttpStatusCode.NoContent, all.StatusCode);
        }
        foreach (var client in new[] { b, c })
        {
            await client.AssertRevokedAsync();
        }
        using var afterLogout = await server.PostJsonAsync("/auth/logout", null, bearer: tokenA);
        Assert.Equal(HttpStatusCode.Unauthorized, afterLogout.StatusCode);
        using var noToken = await server.PostJsonAsync("/auth/logout", null);
        Assert.Equal(HttpStatusCode.Unauthorized, noToken.StatusCode);
        Assert.True((await JsonAsync(noToken)).TryGetProperty("message", out _));
    }

    [Fact]
    public async Task Twenty_parallel_refreshes_with_one_token_let_exactly_one_succeed()
    {
        await using var server = await AccountsTestServer.StartAsync();
        await server.RegisterAsync("grace");
        var (_, refresh) = await server.LoginAsync("grace");
        var responses = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => server.PostJsonAsync("/auth/refresh", new { refreshToken = refresh })));
        Assert.Equal(1, responses.Count(r => r.StatusCode == HttpStatusCode.OK));
        Assert.All(responses.Where(r => r.StatusCode != HttpStatusCode.OK), r => Assert.Equal(HttpStatusCode.Unauthorized, r.StatusCode));
        foreach (var response in responses)
        {
            response.Dispose();
        }
    }

    [Fact]
    public async Task The_eleventh_failed_login_within_a_minute_gets_429_with_retry_after()
    {
        await using var server = await AccountsTestServer.StartAsync();
        await server.RegisterAsync("heidi");
        for (var i = 0; i < 10; i++)
        {
            using var failed = await server.PostJsonAsync("/auth/login", new { username = "heidi", password = "wrong password" });
            Assert.Equal(HttpStatusCode.Unauthorized, failed.StatusCode);
        }
        using var blocked = await server.PostJsonAsync("/auth/login", new { username = "heidi", password = "correct horse battery" });
        Assert.Equal(HttpStatusCode.TooManyRequests, blocked.StatusCode);
        Assert.True(int.Parse(blocked.Headers.GetValues("Retry-After").Single(), System.Globalization.CultureInfo.InvariantCulture) >= 1);
        Assert.True((await JsonAsync(blocked)).TryGetProperty("message", out _));
        // Another user is not affected.
        await server.RegisterAsync("ivan");
        await server.LoginAsync("ivan");
    }

    [Fact]
    public async Task Requests_per_address_are_limited()
    {
        await using var server = await AccountsTestServer.StartAsync(o => o.LoginsPerMinutePerAddress = 3);
        for (var i = 0; i < 3; i++)
        {
            using var allowed = await server.PostJsonAsync("/auth/login", new { username = "x" + i, password = "whatever it is" });
            Assert.Equal(HttpStatusCode.Unauthorized, allowed.StatusCode);
        }
        using var limited = await server.PostJsonAsync("/auth/refresh", new { refreshToken = "r" });
        Assert.Equal(HttpStatusCode.TooManyRequests, limited.StatusCode);
        Assert.True(limited.Headers.Contains("Retry-After"));
    }

    public static TheoryData<string, string, string?, int> HostileRequests() => new()
    {
        { "/auth/register", "{\"username\":\"x'; DROP TABLE users;--\",\"password\":\"correct horse battery\"}", "application/json", 400 },
        { "/auth/register", "{\"username\":\"admin\\\" OR 1=1 --\",\"password\":\"correct horse battery\"}", "application/json", 400 },
        { "/auth/register", "{\"username\":\"ok-name\"}", "application/json", 400 },
        { "/auth/register", "{\"username\":\"ok-name\",\"password\":\"short\"}", "application/json", 400 },
        { "/auth/register", "{\"username\":42,\"password\":\"correct horse battery\"}", "application/json", 400 },
        { "/auth/register", "[1,2,3]", "application/json", 400 },
        { "/auth/register", "{not json", "application/json", 400 },
        { "/auth/register", "username=a&password=b", "application/x-www-form-urlencoded", 415 },
        { "/auth/login", "<xml/>", "text/xml", 415 },
        { "/auth/login", "{\"password\":\"correct horse battery\"}", "application/json", 400 },
        { "/auth/login", "", "application/json", 400 },
        { "/auth/login", "{\"username\":\"' OR '1'='1\",\"password\":\"' OR '1'='1\"}", "application/json", 401 },
        { "/auth/refresh", "{\"refreshToken\":123}", "application/json", 400 },
        { "/auth/login", "{\"username\":\"" + new string('a', 1024 * 1024) + "\",\"password\":\"x\"}", "application/json", 413 },
    };

    [Theory]
    [MemberData(nameof(HostileRequests))]
    public async Task Hostile_input_gets_a_4xx_with_a_message(string path, string body, string? contentType, int status)
    {
        await using var server = await AccountsTestServer.StartAsync();
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(body, Encoding.UTF8) };
        request.Content.Headers.ContentType = contentType is null ? null : new System.Net.Http.Headers.MediaTypeHeaderValue(contentType);
        using var response = await server.Http.SendAsync(request);
        Assert.Equal(status, (int)response.StatusCode);
        var json = await JsonAsync(response);
        Assert.False(string.IsNullOrEmpty(json.GetProperty("message").GetString()));
        // The store is intact and still serves.
        await server.RegisterAsync("after-attack");
    }

    [Fact]
    public async Task Registration_conflicts_and_can_be_disabled()
    {
        await using var server = await AccountsTestServer.StartAsync();
        await server.RegisterAsync("judy");
        using var taken = await server.PostJsonAsync("/auth/register", new { username = "JUDY", password = "correct horse battery" });
        Assert.Equal(HttpStatusCode.Conflict, taken.StatusCode);
        Assert.True((await JsonAsync(taken)).TryGetProperty("message", out _));

        await using var closed = await AccountsTestServer.StartAsync(o => o.AllowRegistration = false);
        using var disabled = await closed.PostJsonAsync("/auth/register", new { username = "judy", password = "correct horse battery" });
        Assert.Equal(HttpStatusCode.NotFound, disabled.StatusCode);
        Assert.True((await JsonAsync(disabled)).TryGetProperty("message", out _));
    }

    [Fact]
    public async Task Disabling_a_user_in_the_store_disconnects_their_sockets_within_a_second()
    {
        await using var server = await AccountsTestServer.StartAsync();
        var id = await server.RegisterAsync("mallory");
        var (token, _) = await server.LoginAsync("mallory");
        using var socket = await server.ConnectAsync(token);
        // What the command line does from another process: only the store is shared.
        var store = new SqliteAccountStore(Path.Combine(server.DataDirectory, "tessera.db"));
        var started = System.Diagnostics.Stopwatch.StartNew();
        await store.SetDisabledAsync(id, true);
        Assert.Equal("42[\"auth:revoked\",{\"code\":\"token_revoked\"}]", await socket.NextTextAsync());
        Assert.True(started.Elapsed < TimeSpan.FromSeconds(1), $"took {started.Elapsed}");
        using var login = await server.PostJsonAsync("/auth/login", new { username = "mallory", password = "correct horse battery" });
        Assert.Equal(HttpStatusCode.Unauthorized, login.StatusCode);
    }

    [Fact]
    public async Task Generated_signing_key_is_owner_only_and_survives_restarts()
    {
        var directory = Path.Combine(Path.GetTempPath(), "tessera-tests", Guid.NewGuid().ToString("N"));
        string token;
        await using (var first = await AccountsTestServer.StartAsync(dataDirectory: directory))
        {
            await first.RegisterAsync("oscar");
            (token, _) = await first.LoginAsync("oscar");
        }
        var keyFile = Path.Combine(directory, SigningKeyFile.FileName);
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(keyFile));
        }
        await using var second = await AccountsTestServer.StartAsync(dataDirectory: directory);
        using var socket = await second.ConnectAsync(token);
    }

    [Fact]
    public void Configured_signing_key_shorter_than_32_bytes_refuses_to_start()
    {
        var error = Assert.Throws<InvalidOperationException>(() => SigningKeyFile.LoadOrCreate(Path.GetTempPath(), "short"));
        Assert.Contains("at least 32 bytes", error.Message);
    }
}
