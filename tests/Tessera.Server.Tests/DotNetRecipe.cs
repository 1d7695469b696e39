using System.Net.Http.Json;
using System.Text.Json;
using SocketIOClient;

namespace Tessera.Server.Tests;

/// <summary>
/// docs/authentication.md's .NET recipe, as code that runs (DotNetRecipeTests): the part between the markers is copied
/// into the docs verbatim, and a test checks that the two are the same.
/// </summary>
public sealed class DotNetRecipe(HttpClient http, string url)
{
    public int Refreshes { get; private set; }

    public TaskCompletionSource<string> SignedOut { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public SocketIOClient.SocketIO? Client { get; private set; }

    // recipe:begin
    private sealed record Tokens(string Token, string RefreshToken);

    private async Task<Tokens> PostAsync(string path, object body)
    {
        using var response = await http.PostAsJsonAsync(url + path, body);
        response.EnsureSuccessStatusCode();   // 401 refresh_reused / refresh_expired: back to the login screen
        var json = await response.Content.ReadFromJsonAsync<JsonElement>();
        return new Tokens(json.GetProperty("token").GetString()!, json.GetProperty("refreshToken").GetString()!);
    }

    public async Task ConnectAsync(string username, string password)
    {
        var tokens = await PostAsync("/auth/login", new { username, password });
        var client = new SocketIOClient.SocketIO(url, new SocketIOOptions
        {
            Auth = new { token = tokens.Token },
            Transport = SocketIOClient.Transport.TransportProtocol.WebSocket,
        });
        client.On("auth:expiring", async _ =>
        {
            // Rotate the refresh token, then hand the new access token to the live socket; reconnects send it too.
            tokens = await PostAsync("/auth/refresh", new { refreshToken = tokens.RefreshToken });
            client.Options.Auth = new { token = tokens.Token };
            await client.EmitAsync("auth:refresh", ack => Refreshes++, tokens.Token);
        });
        client.On("auth:revoked", _ => SignedOut.TrySetResult("Your session ended elsewhere."));
        client.On("auth:expired", _ => SignedOut.TrySetResult("Your session expired."));
        client.OnError += (_, message) => SignedOut.TrySetResult(message);   // a refused connect: its message
        Client = client;
        await client.ConnectAsync();
    }
    // recipe:end
}
