using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace Tessera.Server.Tests;

/// <summary>What a user does against a running server: sign up and connect a Socket.IO client with the token.</summary>
public static class ServerClients
{
    public const string Password = "correct horse battery";

    public static async Task<(string Id, string Token)> SignUpAsync(ServerProcess server, string username)
    {
        using var register = await server.PostJsonAsync("/auth/register", new { username, password = Password });
        Assert.Equal(HttpStatusCode.Created, register.StatusCode);
        var id = (await register.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()!;
        var (token, _) = await server.LoginAsync(username, Password);
        return (id, token);
    }

    public static async Task<RawClient> ConnectAsync(ServerProcess server, string token)
    {
        // The server's events carry recovery offsets (CONTRACT §5); these tests compare the rest of each packet.
        var client = await RawClient.ConnectAsync(server.BaseUrl);
        client.StripRecoveryOffsets = true;
        await client.SendAsync("40" + JsonSerializer.Serialize(new { token }));
        Assert.StartsWith("40{", await client.NextTextAsync());
        return client;
    }
}
