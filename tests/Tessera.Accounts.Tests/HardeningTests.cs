using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Tessera.Accounts;
using Tessera.Accounts.Internal;

namespace Tessera.Accounts.Tests;

/// <summary>The security review's findings on the accounts (issue 13: 4, 5, 7, 8, 10, 13, 14), each against a real server.</summary>
public class HardeningTests(Xunit.Abstractions.ITestOutputHelper output)
{
    private const string Password = "correct horse battery";

    private static async Task<JsonElement> JsonAsync(HttpResponseMessage response) => await response.Content.ReadFromJsonAsync<JsonElement>();

    /// <summary>
    /// An HTTP client whose connections leave from <paramref name="localAddress"/> (any 127.x.y.z on Linux's loopback):
    /// the server sees it as another client address.
    /// </summary>
    private static HttpClient ClientFrom(AccountsTestServer server, string localAddress) => new(new SocketsHttpHandler
    {
        UseCookies = false,
        ConnectCallback = async (context, cancellationToken) =>
        {
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                socket.Bind(new IPEndPoint(IPAddress.Parse(localAddress), 0));
                await socket.ConnectAsync(context.DnsEndPoint, cancellationToken);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        },
    })
    { BaseAddress = new Uri(server.BaseUrl) };

    private static Task<HttpResponseMessage> LoginFromAsync(HttpClient client, string username, string password) =>
        client.PostAsync("/auth/login", new StringContent(JsonSerializer.Serialize(new { username, password }), Encoding.UTF8, "application/json"));

    // Finding 4: the limit is taken before the hash is verified, so parallel guesses cannot overrun it.
    [Fact]
    public async Task Thirty_parallel_wrong_passwords_get_at_most_the_limit_of_401s_and_the_rest_429()
    {
        await using var server = await AccountsTestServer.StartAsync();
        await server.RegisterAsync("racer");
        var responses = await Task.WhenAll(Enumerable.Range(0, 30).Select(_ => server.PostJsonAsync("/auth/login", new { username = "racer", password = "wrong password" })));
        try
        {
            var unauthorized = responses.Count(r => r.StatusCode == HttpStatusCode.Unauthorized);
            var limited = responses.Where(r => r.StatusCode == HttpStatusCode.TooManyRequests).ToList();
            output.WriteLine($"30 parallel wrong passwords, limit 10: {unauthorized} × 401, {limited.Count} × 429");
            Assert.True(unauthorized == 10 && limited.Count == 20, $"{unauthorized} × 401, {limited.Count} × 429 (of 30)");
            Assert.All(limited, r => Assert.True(int.Parse(r.Headers.GetValues("Retry-After").Single(), System.Globalization.CultureInfo.InvariantCulture) >= 1));
        }
        finally
        {
            foreach (var response in responses)
            {
                response.Dispose();
            }
        }
    }

    // Finding 5: the limit is per username and address; the owner elsewhere still logs in.
    [Fact]
    public async Task An_attacker_at_the_limit_does_not_lock_the_owner_out_from_another_address()
    {
        await using var server = await AccountsTestServer.StartAsync();
        await server.RegisterAsync("victim");
        using var attacker = ClientFrom(server, "127.0.0.1");
        using var owner = ClientFrom(server, "127.0.0.2");
        for (var i = 0; i < 10; i++)
        {
            using var failed = await LoginFromAsync(attacker, "victim", "wrong password " + i);
            Assert.Equal(HttpStatusCode.Unauthorized, failed.StatusCode);
        }
        using (var blocked = await LoginFromAsync(attacker, "victim", "wrong password again"))
        {
            Assert.Equal(HttpStatusCode.TooManyRequests, blocked.StatusCode);
            Assert.True(blocked.Headers.Contains("Retry-After"));
        }
        // The limit is per username and address: from the attacker's address even the right password waits.
        using (var blockedRight = await LoginFromAsync(attacker, "VICTIM", Password))
        {
            Assert.Equal(HttpStatusCode.TooManyRequests, blockedRight.StatusCode);
        }
        using var login = await LoginFromAsync(owner, "victim", Password);
        Assert.Equal(HttpStatusCode.OK, login.StatusCode);
        Assert.False(string.IsNullOrEmpty((await JsonAsync(login)).GetProperty("token").GetString()));
    }

    // Finding 5: beyond 10× the limit from all addresses together, failures are slowed down, never refused for the owner.
    [Fact]
    public async Task Failures_from_many_addresses_beyond_ten_times_the_limit_are_slowed_and_the_owner_still_logs_in()
    {
        await using var server = await AccountsTestServer.StartAsync(o => o.FailedLoginsPerMinute = 1);
        await server.RegisterAsync("popular");
        var attackers = Enumerable.Range(2, 13).Select(i => ClientFrom(server, "127.0.1." + i)).ToList();
        try
        {
            // Ten addresses, one failure each: 10 × FailedLoginsPerMinute in all, answered at once.
            var first = await Task.WhenAll(attackers.Take(10).Select(async client =>
            {
                using var response = await LoginFromAsync(client, "popular", "wrong password");
                return response.StatusCode;
            }));
            Assert.All(first, status => Assert.Equal(HttpStatusCode.Unauthorized, status));
            // Each of those addresses is at its own limit now.
            using (var again = await LoginFromAsync(attackers[0], "popular", "wrong password"))
            {
                Assert.Equal(HttpStatusCode.TooManyRequests, again.StatusCode);
            }
            // Further failures, from fresh addresses, are answered late: the 11th and on each wait a growing delay.
            for (var i = 10; i < 13; i++)
            {
                var started = Stopwatch.StartNew();
                using var slowed = await LoginFromAsync(attackers[i], "popular", "wrong password");
                Assert.Equal(HttpStatusCode.Unauthorized, slowed.StatusCode);
                var expected = LoginFailures.SlowdownFor(i + 1, 1);
                Assert.True(expected > TimeSpan.Zero, $"no slowdown for failure {i + 1}");
                output.WriteLine($"failure {i + 1}: answered after {started.Elapsed.TotalMilliseconds:F0} ms (slowdown {expected.TotalMilliseconds:F0} ms)");
                Assert.True(started.Elapsed >= expected - TimeSpan.FromMilliseconds(20), $"failure {i + 1} took {started.Elapsed}, expected at least {expected}");
            }
            // The owner, from an address without failures, is neither refused nor slowed.
            using var owner = ClientFrom(server, "127.0.1.100");
            var ownerStarted = Stopwatch.StartNew();
            using var login = await LoginFromAsync(owner, "popular", Password);
            output.WriteLine($"owner's login from a clean address during the attack: {(int)login.StatusCode} after {ownerStarted.Elapsed.TotalMilliseconds:F0} ms");
            Assert.Equal(HttpStatusCode.OK, login.StatusCode);
        }
        finally
        {
            attackers.ForEach(c => c.Dispose());
        }
    }

    [Fact]
    public void The_slowdown_starts_beyond_ten_times_the_limit_grows_and_is_bounded()
    {
        Assert.Equal(TimeSpan.Zero, LoginFailures.SlowdownFor(100, 10));
        Assert.True(LoginFailures.SlowdownFor(101, 10) > TimeSpan.Zero);
        Assert.True(LoginFailures.SlowdownFor(110, 10) > LoginFailures.SlowdownFor(101, 10));
        Assert.Equal(LoginFailures.MaxSlowdown, LoginFailures.SlowdownFor(1_000_000, 10));
    }

    [Fact]
    public void An_IPv6_client_is_counted_by_its_64_bit_prefix()
    {
        Assert.Equal(AuthEndpoints.AddressKey(IPAddress.Parse("2001:db8:1:2:aaaa::1")), AuthEndpoints.AddressKey(IPAddress.Parse("2001:db8:1:2:ffff::9")));
        Assert.NotEqual(AuthEndpoints.AddressKey(IPAddress.Parse("2001:db8:1:2::1")), AuthEndpoints.AddressKey(IPAddress.Parse("2001:db8:1:3::1")));
        Assert.Equal("192.0.2.7", AuthEndpoints.AddressKey(IPAddress.Parse("::ffff:192.0.2.7")));
    }

    // Finding 7: owner-only files in an owner-only directory.
    [Fact]
    public async Task The_data_directory_and_every_file_the_server_creates_in_it_are_owner_only()
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }
        var directory = Path.Combine(Path.GetTempPath(), "tessera-tests", Guid.NewGuid().ToString("N"), "data");
        await using var server = await AccountsTestServer.StartAsync(dataDirectory: directory);
        await server.RegisterAsync("modes");
        await server.LoginAsync("modes");
        const UnixFileMode ownerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        Assert.Equal(ownerOnly | UnixFileMode.UserExecute, File.GetUnixFileMode(directory));
        foreach (var name in new[] { "tessera.db", "tessera.db-wal", "tessera.db-shm", SigningKeyFile.FileName })
        {
            var path = Path.Combine(directory, name);
            Assert.True(File.Exists(path), name + " missing");
            Assert.Equal((name, ownerOnly), (name, File.GetUnixFileMode(path)));
        }
    }

    [Fact]
    public async Task An_existing_database_readable_by_others_is_tightened_at_start()
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }
        var directory = Path.Combine(Path.GetTempPath(), "tessera-tests", Guid.NewGuid().ToString("N"));
        await using (var first = await AccountsTestServer.StartAsync(dataDirectory: directory))
        {
            await first.RegisterAsync("older");
        }
        var database = Path.Combine(directory, "tessera.db");
        File.SetUnixFileMode(database, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        await using var second = await AccountsTestServer.StartAsync(dataDirectory: directory);
        await second.LoginAsync("older");
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(database));
    }

    // Finding 8: a cookie-only refresh from a foreign origin is refused; an empty body still needs a JSON content type.
    [Theory]
    [InlineData("Origin", "http://evil.example")]
    [InlineData("Origin", "null")]
    [InlineData("Sec-Fetch-Site", "cross-site")]
    public async Task A_cookie_only_refresh_from_another_site_is_refused_with_403_origin(string header, string value)
    {
        await using var server = await AccountsTestServer.StartAsync();
        await server.RegisterAsync("crossed");
        var (_, refresh) = await server.LoginAsync("crossed");
        foreach (var body in new[] { "", "{}" })
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/auth/refresh") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
            request.Headers.Add("Cookie", "refresh_token=" + refresh);
            request.Headers.TryAddWithoutValidation(header, value);
            using var response = await server.Http.SendAsync(request);
            Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
            var json = await JsonAsync(response);
            Assert.Equal("origin", json.GetProperty("code").GetString());
            Assert.False(string.IsNullOrEmpty(json.GetProperty("message").GetString()));
        }
        // Nothing was rotated: the token still works, from the server's own origin.
        using var own = new HttpRequestMessage(HttpMethod.Post, "/auth/refresh") { Content = new StringContent("", Encoding.UTF8, "application/json") };
        own.Headers.Add("Cookie", "refresh_token=" + refresh);
        own.Headers.TryAddWithoutValidation("Origin", server.BaseUrl);
        own.Headers.TryAddWithoutValidation("Sec-Fetch-Site", "same-origin");
        using var ok = await server.Http.SendAsync(own);
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
    }

    [Fact]
    public async Task A_refresh_with_the_token_in_the_body_is_not_an_origin_question()
    {
        await using var server = await AccountsTestServer.StartAsync();
        await server.RegisterAsync("native");
        var (_, refresh) = await server.LoginAsync("native");
        using var request = new HttpRequestMessage(HttpMethod.Post, "/auth/refresh")
        {
            Content = new StringContent(JsonSerializer.Serialize(new { refreshToken = refresh }), Encoding.UTF8, "application/json"),
        };
        request.Headers.TryAddWithoutValidation("Origin", "http://app.example");
        using var response = await server.Http.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("text/plain")]
    [InlineData("application/x-www-form-urlencoded")]
    public async Task A_cookie_refresh_with_an_empty_body_needs_a_JSON_content_type(string? contentType)
    {
        await using var server = await AccountsTestServer.StartAsync();
        await server.RegisterAsync("typed");
        var (_, refresh) = await server.LoginAsync("typed");
        using var request = new HttpRequestMessage(HttpMethod.Post, "/auth/refresh");
        if (contentType is not null)
        {
            request.Content = new StringContent("", Encoding.UTF8);
            request.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue(contentType);
        }
        request.Headers.Add("Cookie", "refresh_token=" + refresh);
        using var response = await server.Http.SendAsync(request);
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, response.StatusCode);
        Assert.False(string.IsNullOrEmpty((await JsonAsync(response)).GetProperty("message").GetString()));
    }

    // Finding 10: PBKDF2 at OWASP's 210,000 iterations; older hashes upgraded at the next login.
    private static int Iterations(string hash)
    {
        var bytes = Convert.FromBase64String(hash);
        Assert.Equal(0x01, bytes[0]); // Identity v3: format marker, PRF, iteration count, salt length (big-endian)
        return (int)BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(5, 4));
    }

    [Fact]
    public async Task New_password_hashes_use_at_least_210000_iterations()
    {
        await using var server = await AccountsTestServer.StartAsync();
        await server.RegisterAsync("hashed");
        var user = await server.Services.GetRequiredService<IAccountStore>().FindUserByNameAsync("hashed");
        Assert.True(Iterations(user!.PasswordHash) >= 210_000, $"{Iterations(user.PasswordHash)} iterations");
    }

    [Fact]
    public async Task A_100000_iteration_hash_is_rehashed_at_the_next_login()
    {
        await using var server = await AccountsTestServer.StartAsync();
        var store = server.Services.GetRequiredService<IAccountStore>();
        var old = new PasswordHasher<UserAccount>(Options.Create(new PasswordHasherOptions { IterationCount = 100_000 })).HashPassword(null!, Password);
        Assert.Equal(100_000, Iterations(old));
        var user = await store.CreateUserAsync("legacy", old);
        Assert.NotNull(user);
        await server.LoginAsync("legacy");
        var upgraded = (await store.FindUserByIdAsync(user.Id))!.PasswordHash;
        Assert.NotEqual(old, upgraded);
        Assert.True(Iterations(upgraded) >= 210_000, $"{Iterations(upgraded)} iterations after login");
        await server.LoginAsync("legacy");
    }

    // Finding 14: Auth:RefreshReuseGrace.
    [Fact]
    public async Task Without_a_grace_a_second_use_right_after_rotation_revokes_the_session()
    {
        await using var server = await AccountsTestServer.StartAsync();
        await server.RegisterAsync("strict");
        var (_, refresh) = await server.LoginAsync("strict");
        using var first = await server.PostJsonAsync("/auth/refresh", new { refreshToken = refresh });
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        var next = (await JsonAsync(first)).GetProperty("refreshToken").GetString();
        using var second = await server.PostJsonAsync("/auth/refresh", new { refreshToken = refresh });
        Assert.Equal("refresh_reused", (await JsonAsync(second)).GetProperty("code").GetString());
        using var dead = await server.PostJsonAsync("/auth/refresh", new { refreshToken = next });
        Assert.Equal("refresh_invalid", (await JsonAsync(dead)).GetProperty("code").GetString());
    }

    [Fact]
    public async Task Within_the_grace_a_second_use_gets_new_tokens_in_the_same_session_and_after_it_reuse_still_revokes()
    {
        await using var server = await AccountsTestServer.StartAsync(o => o.RefreshReuseGrace = TimeSpan.FromSeconds(2));
        await server.RegisterAsync("two-tabs");
        var (token, refresh) = await server.LoginAsync("two-tabs");
        var sid = new JsonWebToken(token).GetClaim("sid").Value;
        using var socket = await server.ConnectAsync(token);

        using var tabA = await server.PostJsonAsync("/auth/refresh", new { refreshToken = refresh });
        using var tabB = await server.PostJsonAsync("/auth/refresh", new { refreshToken = refresh });
        Assert.Equal(HttpStatusCode.OK, tabA.StatusCode);
        Assert.Equal(HttpStatusCode.OK, tabB.StatusCode);
        var a = await JsonAsync(tabA);
        var b = await JsonAsync(tabB);
        var refreshA = a.GetProperty("refreshToken").GetString()!;
        var refreshB = b.GetProperty("refreshToken").GetString()!;
        // Never the same refresh token twice: each tab holds its own, both in the login's session.
        Assert.NotEqual(refreshA, refreshB);
        Assert.Equal(sid, new JsonWebToken(a.GetProperty("token").GetString()).GetClaim("sid").Value);
        Assert.Equal(sid, new JsonWebToken(b.GetProperty("token").GetString()).GetClaim("sid").Value);
        Assert.StartsWith("refresh_token=" + refreshB + ";", tabB.Headers.GetValues("Set-Cookie").Single());

        // Each tab's token rotates on its own, and is itself single-use.
        using var nextA = await server.PostJsonAsync("/auth/refresh", new { refreshToken = refreshA });
        Assert.Equal(HttpStatusCode.OK, nextA.StatusCode);
        var refreshA2 = (await JsonAsync(nextA)).GetProperty("refreshToken").GetString()!;
        using var nextB = await server.PostJsonAsync("/auth/refresh", new { refreshToken = refreshB });
        Assert.Equal(HttpStatusCode.OK, nextB.StatusCode);

        // Past the grace (counted from the first rotation, not from each reuse) a reuse is theft again.
        await Task.Delay(TimeSpan.FromSeconds(2.3));
        using var late = await server.PostJsonAsync("/auth/refresh", new { refreshToken = refresh });
        Assert.Equal(HttpStatusCode.Unauthorized, late.StatusCode);
        Assert.Equal("refresh_reused", (await JsonAsync(late)).GetProperty("code").GetString());
        await socket.AssertRevokedAsync();
        using var dead = await server.PostJsonAsync("/auth/refresh", new { refreshToken = refreshA2 });
        Assert.Equal("refresh_invalid", (await JsonAsync(dead)).GetProperty("code").GetString());
    }

    [Fact]
    public async Task Within_the_grace_twenty_parallel_refreshes_all_succeed_with_distinct_tokens()
    {
        await using var server = await AccountsTestServer.StartAsync(o => o.RefreshReuseGrace = TimeSpan.FromSeconds(10));
        await server.RegisterAsync("many-tabs");
        var (_, refresh) = await server.LoginAsync("many-tabs");
        var responses = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => server.PostJsonAsync("/auth/refresh", new { refreshToken = refresh })));
        try
        {
            Assert.All(responses, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
            var tokens = await Task.WhenAll(responses.Select(async r => (await JsonAsync(r)).GetProperty("refreshToken").GetString()));
            Assert.Equal(20, tokens.Distinct().Count());
        }
        finally
        {
            foreach (var response in responses)
            {
                response.Dispose();
            }
        }
    }

    [Fact]
    public async Task A_grace_on_a_logged_out_session_gives_nothing()
    {
        await using var server = await AccountsTestServer.StartAsync(o => o.RefreshReuseGrace = TimeSpan.FromSeconds(30));
        await server.RegisterAsync("gone");
        var (_, refresh) = await server.LoginAsync("gone");
        using var first = await server.PostJsonAsync("/auth/refresh", new { refreshToken = refresh });
        var access = (await JsonAsync(first)).GetProperty("token").GetString();
        using (var logout = await server.PostJsonAsync("/auth/logout", null, bearer: access))
        {
            Assert.Equal(HttpStatusCode.NoContent, logout.StatusCode);
        }
        // A used token of a revoked session is a replay like any other: no tokens, whatever the grace.
        using var again = await server.PostJsonAsync("/auth/refresh", new { refreshToken = refresh });
        Assert.Equal(HttpStatusCode.Unauthorized, again.StatusCode);
        Assert.Equal("refresh_reused", (await JsonAsync(again)).GetProperty("code").GetString());
    }

    [Theory]
    [InlineData(-1)]
    public void A_negative_reuse_grace_is_a_configuration_error(int seconds)
    {
        var options = new AccountOptions { RefreshReuseGrace = TimeSpan.FromSeconds(seconds) };
        var result = new AccountOptionsValidation().Validate(null, options);
        Assert.True(result.Failed);
        Assert.Contains("RefreshReuseGrace", result.FailureMessage);
        Assert.True(new AccountOptionsValidation().Validate(null, new AccountOptions()).Succeeded);
    }

    // Finding 13 (accounts half): a token of this server must name a live session of a known, enabled user.
    private static string Mint(AccountsTestServer server, Dictionary<string, object> claims)
    {
        var options = server.Services.GetRequiredService<IOptions<AccountOptions>>().Value;
        return new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Claims = claims,
            Issuer = options.Issuer,
            Audience = options.Audience,
            Expires = DateTime.UtcNow.AddMinutes(5),
            SigningCredentials = server.Services.GetRequiredService<SigningKeyRing>().Current(),
            TokenType = "at+jwt",
        });
    }

    private static async Task<string> RefusalAsync(AccountsTestServer server, string token)
    {
        using var client = await RawClient.ConnectAsync(server.BaseUrl);
        await client.SendAsync("40" + JsonSerializer.Serialize(new { token }));
        return await client.NextTextAsync();
    }

    [Fact]
    public async Task Handshake_refuses_tokens_without_sid_or_for_unknown_or_disabled_users_as_revoked()
    {
        await using var server = await AccountsTestServer.StartAsync();
        var id = await server.RegisterAsync("real");
        var (token, _) = await server.LoginAsync("real");
        var sid = new JsonWebToken(token).GetClaim("sid").Value;
        var store = server.Services.GetRequiredService<IAccountStore>();
        var disabled = await store.CreateUserAsync("disabled-one", "x");
        await store.SetDisabledAsync(disabled!.Id, true);
        var cases = new Dictionary<string, string>
        {
            ["no sid"] = Mint(server, new() { ["sub"] = id, ["name"] = "real" }),
            ["unknown user, real session"] = Mint(server, new() { ["sub"] = "no-such-user", ["name"] = "ghost", ["sid"] = sid }),
            ["another user's session"] = Mint(server, new() { ["sub"] = disabled.Id, ["name"] = "x", ["sid"] = sid }),
            ["unknown session"] = Mint(server, new() { ["sub"] = id, ["name"] = "real", ["sid"] = "no-such-session" }),
            ["no sub"] = Mint(server, new() { ["name"] = "real", ["sid"] = sid }),
        };
        foreach (var (name, minted) in cases)
        {
            var reply = await RefusalAsync(server, minted);
            Assert.True(reply.StartsWith("44{\"message\":\"Authentication error: Token revoked\"", StringComparison.Ordinal) && reply.Contains("\"code\":\"token_revoked\""), $"{name}: {reply}");
        }
        // The refusals did not poison the real session: its token still connects, and one minted alike too.
        using var socket = await server.ConnectAsync(token);
        using var same = await server.ConnectAsync(Mint(server, new() { ["sub"] = id, ["name"] = "real", ["sid"] = sid }));
        // In-band refresh applies the same rule: same sub, no sid → refused, and the socket keeps its identity.
        await socket.SendAsync($"421[\"auth:refresh\",\"{cases["no sid"]}\"]");
        Assert.Equal("431[{\"ok\":false,\"code\":\"token_revoked\"}]", await socket.NextTextAsync());
        await socket.SendAsync("422[\"whoami\"]");
        Assert.Equal($"432[{{\"sub\":\"{id}\",\"name\":\"real\"}}]", await socket.NextTextAsync());
    }

    [Fact]
    public async Task A_user_disabled_in_the_store_is_refused_at_the_next_handshake()
    {
        await using var server = await AccountsTestServer.StartAsync();
        var id = await server.RegisterAsync("later-disabled");
        var (token, _) = await server.LoginAsync("later-disabled");
        var (other, _) = await server.LoginAsync("later-disabled");
        using var socket = await server.ConnectAsync(token);
        await new SqliteAccountStore(Path.Combine(server.DataDirectory, "tessera.db")).SetDisabledAsync(id, true);
        Assert.Equal("42[\"auth:revoked\",{\"code\":\"token_revoked\"}]", await socket.NextTextAsync());
        Assert.Contains("\"code\":\"token_revoked\"", await RefusalAsync(server, other));
    }

    [Fact]
    public async Task The_revocation_check_is_cached_for_a_second()
    {
        await using var server = await AccountsTestServer.StartAsync();
        var id = await server.RegisterAsync("cached");
        var (token, _) = await server.LoginAsync("cached");
        var counting = new CountingStore(server.Services.GetRequiredService<IAccountStore>());
        var revocation = new StoreRevocation(counting, server.Services.GetRequiredService<IOptions<AccountOptions>>());
        var principal = (await server.Services.GetRequiredService<Tessera.Auth.AccessTokenValidator>().ValidateAsync(token)).Principal!;
        for (var i = 0; i < 100; i++)
        {
            Assert.False(await revocation.IsRevokedAsync(principal));
        }
        Assert.Equal(1, counting.Checks);
        Assert.Equal(id, principal.FindFirst("sub")!.Value);
    }

    /// <summary>Counts the store's session checks; everything else is passed through.</summary>
    private sealed class CountingStore(IAccountStore inner) : IAccountStore
    {
        public int Checks;

        public Task InitializeAsync(CancellationToken cancellationToken = default) => inner.InitializeAsync(cancellationToken);
        public Task<UserAccount?> CreateUserAsync(string username, string passwordHash, CancellationToken cancellationToken = default) => inner.CreateUserAsync(username, passwordHash, cancellationToken);
        public Task<UserAccount?> FindUserByNameAsync(string username, CancellationToken cancellationToken = default) => inner.FindUserByNameAsync(username, cancellationToken);
        public Task<UserAccount?> FindUserByIdAsync(string id, CancellationToken cancellationToken = default) => inner.FindUserByIdAsync(id, cancellationToken);
        public Task<IReadOnlyList<UserAccount>> ListUsersAsync(CancellationToken cancellationToken = default) => inner.ListUsersAsync(cancellationToken);
        public Task<bool> SetDisabledAsync(string userId, bool disabled, CancellationToken cancellationToken = default) => inner.SetDisabledAsync(userId, disabled, cancellationToken);
        public Task UpdatePasswordHashAsync(string userId, string passwordHash, CancellationToken cancellationToken = default) => inner.UpdatePasswordHashAsync(userId, passwordHash, cancellationToken);
        public Task CreateSessionAsync(string sessionId, string userId, string refreshTokenHash, DateTimeOffset refreshExpiresAt, CancellationToken cancellationToken = default) =>
            inner.CreateSessionAsync(sessionId, userId, refreshTokenHash, refreshExpiresAt, cancellationToken);
        public Task<RefreshResult> RotateRefreshTokenAsync(string tokenHash, string newTokenHash, DateTimeOffset newExpiresAt, DateTimeOffset now, CancellationToken cancellationToken = default) =>
            inner.RotateRefreshTokenAsync(tokenHash, newTokenHash, newExpiresAt, now, cancellationToken);
        public Task<bool> RevokeSessionAsync(string sessionId, CancellationToken cancellationToken = default) => inner.RevokeSessionAsync(sessionId, cancellationToken);
        public Task RevokeUserSessionsAsync(string userId, CancellationToken cancellationToken = default) => inner.RevokeUserSessionsAsync(userId, cancellationToken);

        public Task<bool> IsSessionRevokedAsync(string sessionId, CancellationToken cancellationToken = default)
        {
            Interlocked.Increment(ref Checks);
            return inner.IsSessionRevokedAsync(sessionId, cancellationToken);
        }

        public Task<bool> IsSessionActiveAsync(string sessionId, string userId, CancellationToken cancellationToken = default)
        {
            Interlocked.Increment(ref Checks);
            return inner.IsSessionActiveAsync(sessionId, userId, cancellationToken);
        }

        public Task<IReadOnlyList<RevocationEvent>> RevocationsAfterAsync(long afterId, CancellationToken cancellationToken = default) => inner.RevocationsAfterAsync(afterId, cancellationToken);
        public Task<long> LastRevocationIdAsync(CancellationToken cancellationToken = default) => inner.LastRevocationIdAsync(cancellationToken);
    }
}
