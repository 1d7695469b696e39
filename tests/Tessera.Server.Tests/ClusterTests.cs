using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace Tessera.Server.Tests;

/// <summary>Several server processes sharing a real Redis and a data directory (CONTRACT §2 cluster mode).</summary>
public class ClusterTests
{
    private static Task<ServerProcess> NodeAsync(RedisServer redis, string data) =>
        ServerProcess.StartAsync(data, extra: ["--Tessera:Redis:Configuration=" + redis.Configuration]);

    private static async Task<string> JoinAsync(RawClient client, string room)
    {
        await client.SendAsync($"421[\"chat:join\",{{\"room\":\"{room}\"}}]");
        var ack = await client.NextTextAsync();
        Assert.StartsWith("431[{\"ok\":true", ack);
        return ack;
    }

    [Fact]
    public async Task Two_nodes_share_rooms_members_presence_messages_and_revocation()
    {
        await using var redis = await RedisServer.StartAsync();
        var data = ServerProcess.NewDataDirectory();
        await using var a = await NodeAsync(redis, data);
        await using var b = await NodeAsync(redis, data);
        var (aliceId, aliceToken) = await ServerClients.SignUpAsync(a, "alice");
        var (bobId, bobToken) = await ServerClients.SignUpAsync(b, "bob");

        using var alice = await ServerClients.ConnectAsync(a, aliceToken);
        using var bob = await ServerClients.ConnectAsync(b, bobToken);
        await JoinAsync(alice, "lobby");
        var bobJoin = await JoinAsync(bob, "lobby");
        // FetchSocketsAsync reached node A: alice is listed on node B.
        Assert.Contains($"\"sub\":\"{aliceId}\"", bobJoin);
        Assert.Equal($"42[\"presence\",{{\"room\":\"lobby\",\"joined\":{{\"sub\":\"{bobId}\",\"name\":\"bob\"}}}}]", await alice.NextTextAsync());

        await alice.SendAsync("422[\"chat:message\",{\"room\":\"lobby\",\"text\":\"across nodes\"}]");
        var received = await bob.NextTextAsync();
        Assert.Contains("\"text\":\"across nodes\"", received);
        Assert.Contains("\"name\":\"alice\"", received);

        // logout-all on node A reaches alice's socket on node B.
        using var aliceOnB = await ServerClients.ConnectAsync(b, aliceToken);
        var started = System.Diagnostics.Stopwatch.StartNew();
        using (var logout = await a.PostJsonAsync("/auth/logout-all", null, bearer: aliceToken))
        {
            Assert.Equal(HttpStatusCode.NoContent, logout.StatusCode);
        }
        Assert.Equal("42[\"auth:revoked\",{\"code\":\"token_revoked\"}]", await aliceOnB.NextTextAsync());
        Assert.True(started.Elapsed < TimeSpan.FromSeconds(1), $"revoked after {started.Elapsed}");
        Assert.Equal("41", await aliceOnB.NextTextAsync());
    }

    [Fact]
    public async Task Login_limits_count_across_the_cluster()
    {
        await using var redis = await RedisServer.StartAsync();
        var data = ServerProcess.NewDataDirectory();
        string[] limits = ["--Tessera:Redis:Configuration=" + redis.Configuration, "--Tessera:Auth:LoginsPerMinutePerAddress=4", "--Tessera:Auth:FailedLoginsPerMinute=2"];
        await using var a = await ServerProcess.StartAsync(data, extra: limits);
        await using var b = await ServerProcess.StartAsync(data, extra: limits);
        await ServerClients.SignUpAsync(a, "target");
        async Task<HttpStatusCode> LoginAsync(ServerProcess node, string password)
        {
            using var response = await node.PostJsonAsync("/auth/login", new { username = "target", password });
            return response.StatusCode;
        }
        // Register and the first login took 2 of node A's 4 requests; one wrong password on each node fills the failure limit of 2.
        Assert.Equal(HttpStatusCode.Unauthorized, await LoginAsync(a, "wrong-password-1"));
        Assert.Equal(HttpStatusCode.Unauthorized, await LoginAsync(b, "wrong-password-2"));
        // A third guess is refused on either node: the two failures were counted together, not per node.
        Assert.Equal(HttpStatusCode.TooManyRequests, await LoginAsync(b, "wrong-password-3"));
        // And the per-address budget of 4 is spent (register, login, two failures): node B refuses the right password too.
        using var over = await b.PostJsonAsync("/auth/login", new { username = "target", password = ServerClients.Password });
        Assert.Equal(HttpStatusCode.TooManyRequests, over.StatusCode);
        Assert.True(int.Parse(over.Headers.RetryAfter!.ToString(), System.Globalization.CultureInfo.InvariantCulture) is > 0 and <= 60);
    }

    [Fact]
    public async Task Disabling_a_user_from_the_command_line_reaches_every_node_through_redis()
    {
        await using var redis = await RedisServer.StartAsync();
        var data = ServerProcess.NewDataDirectory();
        // With Redis the nodes read the revocation log only every 30 s: a disconnect within 1 s can only come through Redis.
        string[] cluster = ["--Tessera:Redis:Configuration=" + redis.Configuration];
        await using var a = await ServerProcess.StartAsync(data, extra: cluster);
        var (_, token) = await ServerClients.SignUpAsync(a, "carol");
        using var socket = await ServerClients.ConnectAsync(a, token);
        var (exit, output) = await ServerProcess.RunCliAsync(data, ["users", "disable", "carol", .. cluster]);
        Assert.True(exit == 0, output);
        var afterCli = System.Diagnostics.Stopwatch.StartNew();
        Assert.Equal("42[\"auth:revoked\",{\"code\":\"token_revoked\"}]", await socket.NextTextAsync());
        Assert.True(afterCli.Elapsed < TimeSpan.FromSeconds(1), $"revoked {afterCli.Elapsed} after the command returned");
    }

    [Fact]
    public async Task A_node_socket_io_server_with_the_redis_adapter_interoperates()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var tessera = await NodeAsync(redis, ServerProcess.NewDataDirectory());
        var (_, token) = await ServerClients.SignUpAsync(tessera, "mixed");
        var summary = await NodeInterop.RunAsync("redis-node.mjs", redis.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), tessera.BaseUrl, token);
        Assert.True(summary.GetProperty("ok").GetBoolean());
    }

    /// <summary>
    /// Redis unreachable from the start (nothing listens on its port): a namespace's first handshake, which makes its
    /// adapter, does not wait for Redis. With Redis's timeouts at 30 s, a handshake that waited for its subscriptions
    /// would miss the client's 10 s bound; the node serves its own clients at once.
    /// </summary>
    [Fact]
    public async Task A_node_whose_redis_is_unreachable_from_the_start_serves_its_own_clients_without_waiting_for_it()
    {
        var port = LocalProcesses.FreePort();
        await using var node = await ServerProcess.StartAsync(extra:
            [$"--Tessera:Redis:Configuration=127.0.0.1:{port},abortConnect=false,connectTimeout=30000,syncTimeout=30000,asyncTimeout=30000"]);
        var (_, token) = await ServerClients.SignUpAsync(node, "alone");
        using var socket = await ServerClients.ConnectAsync(node, token);
        await socket.SendAsync("421[\"whoami\"]");
        Assert.StartsWith("431[{\"sub\":", await socket.NextTextAsync());
        using var health = await node.Http.GetAsync("/healthz");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, health.StatusCode);
    }

    [Fact]
    public async Task Redis_outage_keeps_local_delivery_reports_unhealthy_and_cross_node_delivery_resumes()
    {
        await using var redis = await RedisServer.StartAsync();
        var data = ServerProcess.NewDataDirectory();
        await using var a = await NodeAsync(redis, data);
        await using var b = await NodeAsync(redis, data);
        var (_, aliceToken) = await ServerClients.SignUpAsync(a, "alice");
        var (_, carolToken) = await ServerClients.SignUpAsync(a, "carol");
        var (_, bobToken) = await ServerClients.SignUpAsync(b, "bob");
        using var alice = await ServerClients.ConnectAsync(a, aliceToken);
        using var carol = await ServerClients.ConnectAsync(a, carolToken);
        using var bob = await ServerClients.ConnectAsync(b, bobToken);
        await JoinAsync(alice, "lobby");
        await JoinAsync(carol, "lobby");
        Assert.Contains("\"joined\"", await alice.NextTextAsync()); // carol
        await JoinAsync(bob, "lobby");
        Assert.Contains("\"joined\"", await alice.NextTextAsync()); // bob, from the other node
        Assert.Contains("\"joined\"", await carol.NextTextAsync());

        await redis.KillAsync();
        await WaitForHealthAsync(a, HttpStatusCode.ServiceUnavailable);
        // Local delivery never stops.
        await alice.SendAsync("422[\"chat:message\",{\"room\":\"lobby\",\"text\":\"during the outage\"}]");
        Assert.Contains("during the outage", await carol.NextTextAsync());

        await redis.RestartAsync();
        await WaitForHealthAsync(a, HttpStatusCode.OK);
        await WaitForHealthAsync(b, HttpStatusCode.OK);
        // Cross-node delivery resumes once both nodes have resubscribed: keep sending (bounded, paced) until
        // bob's next message arrives.
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var sender = Task.Run(async () =>
        {
            for (var attempt = 0; attempt < 40 && !stop.IsCancellationRequested; attempt++)
            {
                await alice.SendAsync($"423[\"chat:message\",{{\"room\":\"lobby\",\"text\":\"after {attempt}\"}}]");
                await Task.Delay(250, stop.Token).ContinueWith(_ => { }, TaskScheduler.Default);
            }
        });
        var seen = await bob.NextTextAsync();
        await stop.CancelAsync();
        await sender;
        Assert.Contains("\"text\":\"after", seen);
    }

    private static async Task WaitForHealthAsync(ServerProcess server, HttpStatusCode expected)
    {
        // Health is a state, not an event: poll it, bounded.
        for (var i = 0; i < 100; i++)
        {
            using var response = await server.Http.GetAsync("/healthz");
            if (response.StatusCode == expected)
            {
                return;
            }
            await Task.Delay(100);
        }
        Assert.Fail($"/healthz never answered {expected}");
    }
}
