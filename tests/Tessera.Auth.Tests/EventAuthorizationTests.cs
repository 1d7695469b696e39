namespace Tessera.Auth.Tests;

/// <summary>Per-namespace and per-event authorization: refused events never run their handlers.</summary>
public class EventAuthorizationTests
{
    [Fact]
    public async Task Event_requiring_a_role_is_refused_with_forbidden_ack_and_never_runs()
    {
        await using var server = await AuthTestServer.StartAsync();
        var (client, _) = await server.ConnectWithAuthAsync(new { token = Tokens.Create(sub: "user") });
        using (client)
        {
            await client.SendAsync("425[\"admin-only\"]");
            Assert.Equal("435[{\"error\":{\"code\":\"forbidden\"}}]", await client.NextTextAsync());
            await client.SendAsync("426[\"vip\"]");
            Assert.Equal("436[{\"error\":{\"code\":\"forbidden\"}}]", await client.NextTextAsync());
        }
        Assert.Empty(server.HandlersRun);
    }

    [Fact]
    public async Task Event_runs_when_the_user_has_the_role_or_satisfies_the_policy()
    {
        await using var server = await AuthTestServer.StartAsync();
        var token = Tokens.Create(sub: "boss", extra: new Dictionary<string, object> { ["role"] = "admin", ["tier"] = "gold" });
        var (client, _) = await server.ConnectWithAuthAsync(new { token });
        using (client)
        {
            await client.SendAsync("425[\"admin-only\"]");
            Assert.Equal("435[\"welcome, admin\"]", await client.NextTextAsync());
            await client.SendAsync("426[\"vip\"]");
            Assert.Equal("436[\"welcome, vip\"]", await client.NextTextAsync());
        }
        Assert.Equal(["admin-only", "vip"], server.HandlersRun);
    }

    [Fact]
    public async Task Namespace_policy_refuses_the_connection_with_forbidden()
    {
        await using var server = await AuthTestServer.StartAsync();
        var (client, reply) = await server.ConnectWithAuthAsync(new { token = Tokens.Create() }, "/admin");
        using (client)
        {
            Assert.Equal("44/admin,{\"message\":\"Forbidden\",\"data\":{\"code\":\"forbidden\",\"retryable\":false}}", reply);
        }
    }
}
