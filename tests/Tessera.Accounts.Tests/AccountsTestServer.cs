using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Tessera.Accounts;
using Tessera.Accounts.Internal;
using Tessera.SocketIO;

namespace Tessera.Accounts.Tests;

/// <summary>Kestrel on 127.0.0.1 with the account endpoints, a SQLite store in a fresh directory, and Socket.IO (whoami).</summary>
public sealed class AccountsTestServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private AccountsTestServer(WebApplication app, string baseUrl, string dataDirectory)
    {
        _app = app;
        BaseUrl = baseUrl;
        DataDirectory = dataDirectory;
        Http = new HttpClient(new HttpClientHandler { UseCookies = false }) { BaseAddress = new Uri(baseUrl) };
    }

    public string BaseUrl { get; }
    public string DataDirectory { get; }
    public HttpClient Http { get; }
    public IServiceProvider Services => _app.Services;

    /// <param name="configure">Account options beyond the test defaults.</param>
    /// <param name="dataDirectory">The data directory (a fresh one when null).</param>
    /// <param name="postgres">A PostgreSQL connection string: the store is that database instead of SQLite.</param>
    /// <param name="jwt">JWT options beyond the test defaults (clock skew 0).</param>
    /// <param name="redis">A Redis configuration string: the Redis adapter joins this node to a cluster.</param>
    public static async Task<AccountsTestServer> StartAsync(
        Action<AccountOptions>? configure = null, string? dataDirectory = null, string? postgres = null, Action<Tessera.Auth.JwtAuthenticationOptions>? jwt = null,
        string? redis = null)
    {
        dataDirectory ??= Path.Combine(Path.GetTempPath(), "tessera-tests", Guid.NewGuid().ToString("N"));
        var (app, baseUrl) = await LoopbackApp.StartAsync(
            builder =>
            {
                var socketIO = builder.Services.AddSocketIO()
                    .AddJwtAuthentication(o =>
                    {
                        o.ClockSkew = TimeSpan.Zero;
                        jwt?.Invoke(o);
                    })
                    .AddAccounts(o =>
                {
                    o.DataDirectory = dataDirectory;
                    o.RevocationPollInterval = TimeSpan.FromMilliseconds(100);
                    configure?.Invoke(o);
                });
                if (postgres is not null)
                {
                    socketIO.AddPostgreSqlStore(o => o.ConnectionString = postgres);
                }
                if (redis is not null)
                {
                    socketIO.AddRedisAdapter(o => o.Configuration = redis);
                }
            },
            app =>
            {
                app.Services.GetRequiredService<SocketIOServer>().OnConnection(socket =>
                    socket.On("whoami", e => e.Ack(new { sub = e.Socket.User.FindFirst("sub")?.Value, name = e.Socket.User.Identity?.Name })));
                app.MapSocketIO();
                app.MapTesseraAuth();
            });
        return new AccountsTestServer(app, baseUrl, dataDirectory);
    }

    public async Task<HttpResponseMessage> PostJsonAsync(string path, object? body, string? bearer = null, string? cookie = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path);
        if (body is not null)
        {
            request.Content = new StringContent(body as string ?? JsonSerializer.Serialize(body), Encoding.UTF8, "application/json");
        }
        if (bearer is not null)
        {
            request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", bearer);
        }
        if (cookie is not null)
        {
            request.Headers.Add("Cookie", cookie);
        }
        return await Http.SendAsync(request);
    }

    public async Task<string> RegisterAsync(string username, string password = "correct horse battery")
    {
        using var response = await PostJsonAsync("/auth/register", new { username, password });
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()!;
    }

    public async Task<(string Token, string Refresh)> LoginAsync(string username, string password = "correct horse battery")
    {
        using var response = await PostJsonAsync("/auth/login", new { username, password });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        return (body.GetProperty("token").GetString()!, body.GetProperty("refreshToken").GetString()!);
    }

    /// <summary>Connects a raw Socket.IO client with the token; returns it after the CONNECT reply.</summary>
    public async Task<RawClient> ConnectAsync(string token)
    {
        var client = await RawClient.ConnectAsync(BaseUrl);
        await client.SendAsync("40" + JsonSerializer.Serialize(new { token }));
        Assert.StartsWith("40{", await client.NextTextAsync());
        return client;
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
