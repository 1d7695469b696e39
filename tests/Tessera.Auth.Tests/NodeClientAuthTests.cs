using System.Text.Json;

namespace Tessera.Auth.Tests;

/// <summary>The official socket.io-client (tests/interop/auth.mjs) against the JWT layer, both transports.</summary>
public class NodeClientAuthTests
{
    private static async Task RunAsync(string scenario, AuthTestServer server, string shortLived)
    {
        var tokens = JsonSerializer.Serialize(new
        {
            valid = Tokens.Create(),
            expired = Tokens.Create(lifetime: TimeSpan.FromMinutes(-5), notBefore: DateTime.UtcNow.AddMinutes(-10)),
            invalid = Tokens.Create() + "x",
            @short = shortLived,
            fresh = Tokens.Create(lifetime: TimeSpan.FromSeconds(8)),
            otherSub = Tokens.Create(sub: "eve"),
        });
        var summary = await NodeInterop.RunAsync("auth.mjs", [scenario, server.BaseUrl], null, new Dictionary<string, string> { ["TESSERA_TOKENS"] = tokens });
        Assert.True(summary.GetProperty("ok").GetBoolean());
        foreach (var token in JsonDocument.Parse(tokens).RootElement.EnumerateObject())
        {
            server.AssertNoTokenLogged(token.Value.GetString()!);
        }
    }

    [Theory]
    [InlineData("sources-websocket")]
    [InlineData("sources-polling")]
    [InlineData("refusals-websocket")]
    [InlineData("refusals-polling")]
    public async Task Official_client_token_sources_and_refusals(string scenario)
    {
        await using var server = await AuthTestServer.StartAsync(o => o.ClockSkew = TimeSpan.Zero);
        await RunAsync(scenario, server, Tokens.Create());
    }

    [Theory]
    [InlineData("expire-websocket")]
    [InlineData("expire-polling")]
    [InlineData("refresh-websocket")]
    [InlineData("refresh-polling")]
    public async Task Official_client_token_lifetime(string scenario)
    {
        await using var server = await AuthTestServer.StartAsync(o =>
        {
            o.ClockSkew = TimeSpan.Zero;
            o.ExpiryWarning = TimeSpan.FromSeconds(2);
        });
        await RunAsync(scenario, server, Tokens.Create(lifetime: TimeSpan.FromSeconds(3)));
    }
}
