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
    private int _refreshes;

    /// <summary>Refreshes the server answered; the recipe counts them (<c>Refreshes++</c> in its ack).</summary>
    public int Refreshes
    {
        get => _refreshes;
        private set
        {
            _refreshes = value;
            if (value == 1)
            {
                // The id now, once the socket has certainly been connected (SocketIOClient sets it only after its
                // connected event has run, which may be after ConnectAsync returns).
                IdAtFirstRefresh = Client?.Id;
            }
            else if (value == 2)
            {
                SecondRefresh.TrySetResult();
            }
        }
    }

    public string? IdAtFirstRefresh { get; private set; }

    public TaskCompletionSource SecondRefresh { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

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
