using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Tessera.Accounts.Internal;

namespace Tessera.Accounts.Tests;

/// <summary>
/// Nodes with nothing shared but PostgreSQL and Redis: revocations travel through Redis at once, and the store's log is
/// not polled (CONTRACT §2: within 1 s on every node).
/// </summary>
public class ClusterRevocationTests
{
    [Fact]
    public async Task A_logout_on_one_node_disconnects_the_session_on_another_within_a_second_without_polling_the_store()
    {
        var postgres = await PostgresServer.SharedAsync();
        var database = await postgres.CreateDatabaseAsync();
        await using var redis = await RedisServer.StartAsync();
        // Polling as fast as a single host would, and catching up only hourly: with Redis the catch-up interval applies.
        void Options(AccountOptions o)
        {
            o.RevocationPollInterval = TimeSpan.FromMilliseconds(100);
            o.RevocationCatchUpInterval = TimeSpan.FromHours(1);
        }
        await using var a = await AccountsTestServer.StartAsync(Options, postgres: database, redis: redis.Configuration);
        await using var b = await AccountsTestServer.StartAsync(Options, postgres: database, redis: redis.Configuration);
        Assert.Equal(TimeSpan.FromHours(1), b.Services.GetServices<IHostedService>().OfType<RevocationFeed>().Single().Interval);

        await a.RegisterAsync("olivia");
        var (token, _) = await a.LoginAsync("olivia");
        // HS256 by default: the generated secret lives in the database, not in either data directory.
        Assert.False(File.Exists(Path.Combine(a.DataDirectory, SigningKeyFile.FileName)));
        Assert.Contains(await a.Services.GetRequiredService<IAccountStore>().ListSigningKeysAsync(), k => k.Algorithm == "HS256");
        using var onB = await b.ConnectAsync(token);
        var started = Stopwatch.StartNew();
        using (var logout = await a.PostJsonAsync("/auth/logout", null, bearer: token))
        {
            Assert.Equal(HttpStatusCode.NoContent, logout.StatusCode);
        }
        Assert.Equal("42[\"auth:revoked\",{\"code\":\"token_revoked\"}]", await onB.NextTextAsync());
        Assert.True(started.Elapsed < TimeSpan.FromSeconds(1), $"revoked after {started.Elapsed}");

        // And node B's handshake refuses the token from then on.
        using var again = await RawClient.ConnectAsync(b.BaseUrl);
        await again.SendAsync("40" + JsonSerializer.Serialize(new { token }));
        Assert.StartsWith("44{\"message\":\"Authentication error: Token revoked\"", await again.NextTextAsync());
    }

    [Fact]
    public async Task Without_a_cluster_adapter_the_revocation_log_is_polled()
    {
        await using var single = await AccountsTestServer.StartAsync(o => o.RevocationCatchUpInterval = TimeSpan.FromHours(1));
        Assert.Equal(TimeSpan.FromMilliseconds(100), single.Services.GetServices<IHostedService>().OfType<RevocationFeed>().Single().Interval);
    }
}
