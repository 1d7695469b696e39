namespace Tessera.Server.Tests;

/// <summary>
/// CONTRACT §5 connection state recovery with the official socket.io-client 4.8 (tests/interop/recovery.mjs): a lost
/// session comes back with its id, rooms and missed events, and only after the reconnect's own token has been verified.
/// </summary>
public class RecoveryTests
{
    [Theory]
    [InlineData("recovered")]
    [InlineData("revoked")]
    [InlineData("expired")]
    [InlineData("other-user")]
    public async Task The_official_client_recovers_a_lost_session_only_with_a_valid_token_of_its_user(string scenario)
    {
        // No clock skew, so that "expired" is exact; tokens of 3 s in that scenario.
        string[] args = scenario == "expired"
            ? ["--Tessera:Auth:ClockSkew=00:00:00", "--Tessera:Auth:AccessTokenLifetime=00:00:03"]
            : ["--Tessera:Auth:ClockSkew=00:00:00"];
        await using var server = await ServerProcess.StartAsync(extra: args);
        var summary = await NodeInterop.RunAsync("recovery.mjs", scenario, server.BaseUrl);
        Assert.True(summary.GetProperty("ok").GetBoolean(), summary.ToString());
    }

    /// <summary>
    /// Recovery across the nodes of a cluster (two servers sharing Redis and a data directory): sessions are kept in Redis,
    /// each node's log holds the other nodes' broadcasts, and the reconnect's token is verified on the node it reaches.
    /// </summary>
    [Theory]
    [InlineData("cross-node")]
    [InlineData("cross-node-revoked")]
    public async Task The_official_client_recovers_on_another_node_of_the_cluster_only_with_a_valid_token(string scenario)
    {
        await using var redis = await RedisServer.StartAsync();
        var data = ServerProcess.NewDataDirectory();
        string[] cluster = ["--Tessera:Redis:Configuration=" + redis.Configuration, "--Tessera:Auth:ClockSkew=00:00:00"];
        await using var a = await ServerProcess.StartAsync(data, extra: cluster);
        await using var b = await ServerProcess.StartAsync(data, extra: cluster);
        var summary = await NodeInterop.RunAsync("recovery.mjs", scenario, a.BaseUrl, b.BaseUrl);
        Assert.True(summary.GetProperty("ok").GetBoolean(), summary.ToString());
    }

    [Fact]
    public async Task With_recovery_on_the_connect_reply_has_a_pid_and_events_without_ack_end_with_an_offset()
    {
        await using var server = await ServerProcess.StartAsync();
        var (_, token) = await ServerClients.SignUpAsync(server, "offsets");
        using var client = await RawClient.ConnectAsync(server.BaseUrl);
        await client.SendAsync("40" + System.Text.Json.JsonSerializer.Serialize(new { token }));
        Assert.Matches("^40\\{\"sid\":\"[^\"]+\",\"pid\":\"[^\"]+\"\\}$", await client.NextTextAsync());
        // An ack carries no offset; an event without one (the server's echo when no ack is asked) does, as its last argument.
        await client.SendAsync("421[\"whoami\"]");
        Assert.StartsWith("431[{\"sub\":", await client.NextTextAsync());
        await client.SendAsync("42[\"echo\",\"a\",\"b\"]");
        var first = await client.NextTextAsync();
        Assert.Matches("^42\\[\"echo\",\"a\",\"b\",\"[0-9a-f]{12}-[0-9a-f]+\"\\]$", first);
        await client.SendAsync("42[\"echo\",\"c\"]");
        var second = await client.NextTextAsync();
        Assert.Matches("^42\\[\"echo\",\"c\",\"[0-9a-f]{12}-[0-9a-f]+\"\\]$", second);
        // Each event its own offset.
        static string Offset(string packet) => System.Text.RegularExpressions.Regex.Match(packet, "\"([0-9a-f]{12}-[0-9a-f]+)\"\\]$").Groups[1].Value;
        Assert.NotEqual(Offset(first), Offset(second));
    }

    [Fact]
    public async Task Recovery_can_be_turned_off()
    {
        await using var server = await ServerProcess.StartAsync(extra: ["--Tessera:SocketIO:ConnectionStateRecovery:MaxDisconnectionDuration=00:00:00"]);
        var (_, token) = await ServerClients.SignUpAsync(server, "plain");
        using var client = await RawClient.ConnectAsync(server.BaseUrl);
        await client.SendAsync("40" + System.Text.Json.JsonSerializer.Serialize(new { token }));
        var reply = await client.NextTextAsync();
        Assert.StartsWith("40{\"sid\":", reply);
        Assert.DoesNotContain("pid", reply);
        await client.SendAsync("421[\"whoami\"]");
        Assert.StartsWith("431[{\"sub\":", await client.NextTextAsync());
    }
}
