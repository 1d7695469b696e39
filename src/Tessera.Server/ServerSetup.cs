using Tessera.Auth;
using Tessera.Accounts;
using Tessera.SocketIO;

namespace Tessera.Server;

/// <summary>
/// Configuration (section "Tessera", shared/CONTRACT.md §2) and wiring of the runnable server: Socket.IO,
/// JWT at the handshake, accounts on SQLite, the auth endpoints.
/// </summary>
public static class ServerSetup
{
    public static void AddTessera(this IServiceCollection services, IConfiguration configuration)
    {
        var tessera = configuration.GetSection("Tessera");
        var auth = tessera.GetSection("Auth");
        var socketIO = services.AddSocketIO()
            .AddJwtAuthentication(o =>
            {
                o.ClockSkew = auth.GetValue("ClockSkew", TimeSpan.FromSeconds(30));
                o.ExpiryWarning = auth.GetValue("ExpiryWarning", TimeSpan.FromMinutes(1));
                o.AllowQueryToken = auth.GetValue("AllowQueryToken", true);
            })
            .AddAccounts(o => BindAccounts(o, configuration));
        services.AddSingleton<PrometheusMetrics>();
        services.AddHealthChecks().AddCheck<StoreHealthCheck>("store");
        // Cluster mode: nodes share Redis (and the store and signing key through a shared data directory).
        if (tessera.GetValue<string?>("Redis:Configuration") is { Length: > 0 } redis)
        {
            socketIO.AddRedisAdapter(o => o.Configuration = redis);
        }
    }

    public static void BindAccounts(AccountOptions o, IConfiguration configuration)
    {
        var tessera = configuration.GetSection("Tessera");
        var auth = tessera.GetSection("Auth");
        o.DataDirectory = tessera.GetValue("DataDirectory", "./data")!;
        o.Issuer = auth.GetValue("Issuer", "tessera")!;
        o.Audience = auth.GetValue("Audience", "tessera")!;
        o.SigningKey = auth.GetValue<string?>("SigningKey", null);
        o.AccessTokenLifetime = auth.GetValue("AccessTokenLifetime", TimeSpan.FromMinutes(15));
        o.RefreshTokenLifetime = auth.GetValue("RefreshTokenLifetime", TimeSpan.FromDays(14));
        o.AllowRegistration = auth.GetValue("AllowRegistration", true);
        o.FailedLoginsPerMinute = auth.GetValue("FailedLoginsPerMinute", 10);
        o.LoginsPerMinutePerAddress = auth.GetValue("LoginsPerMinutePerAddress", 60);
    }

    public static void MapTessera(this WebApplication app)
    {
        // Created now so counting starts with the first request.
        var metrics = app.Services.GetRequiredService<PrometheusMetrics>();
        app.MapGet("/metrics", () => Results.Text(metrics.Render(), "text/plain; version=0.0.4; charset=utf-8"));
        var io = app.Services.GetRequiredService<SocketIOServer>();
        io.OnConnection(socket =>
        {
            socket.On("whoami", e => e.Ack(new
            {
                sub = e.Socket.User.FindFirst("sub")?.Value,
                name = e.Socket.User.Identity?.Name,
            }));
            socket.On("echo", e =>
            {
                if (!e.Ack(e.Args))
                {
                    e.Socket.Emit("echo", e.Args);
                }
            });
        });
        Chat.Map(io);
        app.MapSocketIO();
        app.MapTesseraAuth();
        app.MapHealthChecks("/healthz");
        var page = Resource("Tessera.Server.demo.html");
        var bundle = Resource("Tessera.Server.socket.io.min.js");
        app.MapGet("/", () => Results.Bytes(page, "text/html; charset=utf-8"));
        // Served where Node's socket.io serves it, so existing pages keep their script tag.
        app.MapGet("/socket.io/socket.io.min.js", () => Results.Bytes(bundle, "application/javascript; charset=utf-8"));
    }

    private static byte[] Resource(string name)
    {
        using var stream = typeof(ServerSetup).Assembly.GetManifestResourceStream(name)
            ?? throw new InvalidOperationException($"The embedded resource {name} is missing from the build.");
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }
}
