using System.Collections.Concurrent;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.IdentityModel.Tokens;
using Tessera.SocketIO;

namespace Tessera.Auth.Tests;

/// <summary>
/// Kestrel on 127.0.0.1 with Socket.IO and JWT authentication on every namespace but "/public". Handlers:
/// whoami → {sub, name}; echo; join(room); "admin-only" requires role admin; "vip" requires claim tier=gold.
/// </summary>
public sealed class AuthTestServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private AuthTestServer(WebApplication app, string baseUrl, LogCapture logs)
    {
        _app = app;
        BaseUrl = baseUrl;
        Logs = logs;
        Io = app.Services.GetRequiredService<SocketIOServer>();
        Sockets = app.Services.GetRequiredService<AuthenticatedSockets>();
    }

    public string BaseUrl { get; }
    public LogCapture Logs { get; }
    public SocketIOServer Io { get; }
    public AuthenticatedSockets Sockets { get; }

    /// <summary>Full signature verifications done so far (cache hits excluded).</summary>
    public long Verifications => _app.Services.GetRequiredService<AccessTokenValidator>().Verifications;

    /// <summary>Names of events whose handlers ran, so tests can prove a refused one never did.</summary>
    public ConcurrentQueue<string> HandlersRun { get; } = new();

    public int Connections;

    public static async Task<AuthTestServer> StartAsync(Action<JwtAuthenticationOptions>? configure = null, Action<IServiceCollection>? services = null)
    {
        var logs = new LogCapture();
        AuthTestServer? server = null;
        var (app, baseUrl) = await LoopbackApp.StartAsync(
            builder =>
            {
                builder.Services.AddAuthorization(o => o.AddPolicy("gold", p => p.RequireClaim("tier", "gold")));
                builder.Services.AddSocketIO().AddJwtAuthentication(o =>
                {
                    o.Issuer = Tokens.Issuer;
                    o.Audience = Tokens.Audience;
                    o.AddHmacSecret(Tokens.Secret);
                    o.SigningKeys.Add(new RsaSecurityKey(Tokens.Rsa.ExportParameters(false)) { KeyId = "rsa-1" });
                    o.SigningKeys.Add(new ECDsaSecurityKey(ECDsa(Tokens.Ecdsa)) { KeyId = "ec-1" });
                    o.Namespaces = new HashSet<string> { "/", "/admin" };
                    configure?.Invoke(o);
                });
                services?.Invoke(builder.Services);
            },
            app => ConfigureApp(app, () => server!),
            logs: logs);
        server = new AuthTestServer(app, baseUrl, logs);
        return server;
    }

    private static void ConfigureApp(WebApplication app, Func<AuthTestServer> server)
    {
        var io = app.Services.GetRequiredService<SocketIOServer>();
        foreach (var name in new[] { "/", "/admin", "/public" })
        {
            io.Of(name).OnConnection(socket =>
            {
                Interlocked.Increment(ref server().Connections);
                socket.On("whoami", e =>
                {
                    server().HandlersRun.Enqueue("whoami");
                    e.Ack(new { sub = e.Socket.User.FindFirst("sub")?.Value, name = e.Socket.User.Identity?.Name });
                });
                socket.On("echo", e => e.Ack(e.Args));
                socket.On<string>("join", (room, e) =>
                {
                    e.Socket.Join(room!);
                    e.Ack(true);
                });
                socket.On("admin-only", e =>
                {
                    server().HandlersRun.Enqueue("admin-only");
                    e.Ack("welcome, admin");
                });
                socket.On("vip", e =>
                {
                    server().HandlersRun.Enqueue("vip");
                    e.Ack("welcome, vip");
                });
            });
            io.Of(name).RequireRole("admin-only", "admin").RequireAuthorization("vip", "gold");
        }
        io.Of("/admin").RequireAuthorization("gold");
        app.MapSocketIO();
    }

    private static System.Security.Cryptography.ECDsa ECDsa(System.Security.Cryptography.ECDsa source)
    {
        var copy = System.Security.Cryptography.ECDsa.Create();
        copy.ImportParameters(source.ExportParameters(false));
        return copy;
    }

    public Task<RawClient> ConnectRawAsync(string query = "", Action<System.Net.WebSockets.ClientWebSocketOptions>? configure = null) =>
        RawClient.ConnectAsync(BaseUrl, query, configure);

    /// <summary>Sends CONNECT with this auth payload and returns the reply (40… or 44…).</summary>
    public async Task<(RawClient Client, string Reply)> ConnectWithAuthAsync(object? auth, string nsp = "")
    {
        var client = await ConnectRawAsync();
        var prefix = nsp.Length > 0 ? nsp + "," : string.Empty;
        await client.SendAsync("40" + prefix + (auth is null ? string.Empty : JsonSerializer.Serialize(auth)));
        return (client, await client.NextTextAsync());
    }

    public void AssertNoTokenLogged(string token) =>
        Assert.DoesNotContain(Logs.Entries, e => e.Message.Contains(token, StringComparison.Ordinal) || e.Message.Contains(token[..Math.Min(20, token.Length)], StringComparison.Ordinal));

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
