using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.AspNetCore.HttpOverrides;
using Tessera.Auth;
using Tessera.Accounts;
using Tessera.EngineIO;
using Tessera.SocketIO;

namespace Tessera.Server;

/// <summary>
/// Configuration (section "Tessera", shared/CONTRACT.md §2) and wiring of the runnable server: Socket.IO,
/// JWT at the handshake, accounts on SQLite, the auth endpoints.
/// </summary>
public static class ServerSetup
{
    /// <summary><c>Tessera:Limits</c> as configured, the defaults of <see cref="ServerLimits"/> for what is not (validated at start).</summary>
    public static ServerLimits Limits(IConfiguration configuration) =>
        configuration.GetSection("Tessera:Limits").Get<ServerLimits>() ?? new ServerLimits();

    public static void AddTessera(this IServiceCollection services, IConfiguration configuration)
    {
        var tessera = configuration.GetSection("Tessera");
        var auth = tessera.GetSection("Auth");
        // Per-address session bound (CONTRACT §2 Limits:ConnectionsPerAddress), enforced by Engine.IO on every
        // handshake path; the bench app sets none.
        var limits = Limits(configuration);
        // CONTRACT §5: on by default for two minutes; 00:00:00 turns it off.
        var recovery = tessera.GetValue("SocketIO:ConnectionStateRecovery:MaxDisconnectionDuration", TimeSpan.FromMinutes(2));
        if (recovery < TimeSpan.Zero)
        {
            throw new InvalidOperationException($"Tessera:SocketIO:ConnectionStateRecovery:MaxDisconnectionDuration is {recovery}; it must be 00:00:00 (off) or positive.");
        }
        var allowEIO3 = tessera.GetValue("EngineIO:AllowEIO3", false);
        var parser = Parser(tessera["SocketIO:Parser"]);
        var socketIO = services.AddSocketIO(o =>
            {
                o.ConnectionStateRecovery = recovery > TimeSpan.Zero ? new ConnectionStateRecoveryOptions { MaxDisconnectionDuration = recovery } : null;
                o.EngineIO.MaxConnectionsPerAddress = limits.ConnectionsPerAddress;
                o.EngineIO.MaxHandshakesPerSecondPerAddress = limits.HandshakesPerSecondPerAddress;
                // CONTRACT §5: socket.io-client 2.x, off by default; the msgpack parser instead of JSON when configured.
                o.EngineIO.AllowEIO3 = allowEIO3;
                o.Parser = parser;
            })
            .AddJwtAuthentication(o =>
            {
                o.ClockSkew = auth.GetValue("ClockSkew", TimeSpan.FromSeconds(30));
                o.ExpiryWarning = auth.GetValue("ExpiryWarning", TimeSpan.FromMinutes(1));
                o.AllowQueryToken = auth.GetValue("AllowQueryToken", true);
            })
            .AddAccounts(o => BindAccounts(o, configuration))
            .AddConfiguredStore(configuration);
        services.AddOptions<ServerLimits>().Bind(tessera.GetSection("Limits")).ValidateOnStart();
        // Memory back to the OS when a connect burst is over (on unless Tessera:IdleMemoryRelease:Enabled is false).
        services.AddOptions<IdleMemoryReleaseOptions>().Bind(tessera.GetSection("IdleMemoryRelease"));
        services.AddSingleton<Microsoft.Extensions.Options.IValidateOptions<ServerLimits>, ServerLimitsValidation>();
        services.AddSingleton<PrometheusMetrics>();
        if (ForwardedHeadersEnabled(configuration))
        {
            services.Configure<ForwardedHeadersOptions>(o => ConfigureForwardedHeaders(o, configuration));
        }
        services.AddHealthChecks().AddCheck<StoreHealthCheck>("store");
        // Cluster mode: nodes share Redis, and the account store (PostgreSQL, or SQLite in a shared data directory).
        if (RedisConfiguration(configuration) is { } redis)
        {
            var sharded = RedisSharded(configuration);
            socketIO.AddRedisAdapter(o =>
            {
                o.Configuration = redis;
                o.Sharded = sharded;
            });
            // Login, register and refresh limits count across the cluster: more nodes do not mean more guesses.
            services.Replace(ServiceDescriptor.Singleton<IAccountRateCounter, RedisRateCounter>());
        }
    }

    /// <summary><c>Tessera:SocketIO:Parser</c>: <c>json</c> (the default) or <c>msgpack</c> (socket.io-msgpack-parser 3.x).</summary>
    private static SocketIOParser Parser(string? name) => name?.Trim().ToLowerInvariant() switch
    {
        null or "" or "json" => SocketIOParser.Default,
        "msgpack" => SocketIOParser.MessagePack,
        _ => throw new InvalidOperationException($"Tessera:SocketIO:Parser is '{name}'; it must be json (the default) or msgpack."),
    };

    /// <summary>
    /// <c>Tessera:Accounts:Store</c>: <c>sqlite</c> (the default, in DataDirectory) or <c>postgres</c> with
    /// <c>Tessera:Accounts:ConnectionString</c> (CONTRACT §2, §6). The server and its command line use the same.
    /// </summary>
    public static ISocketIOBuilder AddConfiguredStore(this ISocketIOBuilder builder, IConfiguration configuration)
    {
        var accounts = configuration.GetSection("Tessera:Accounts");
        var store = accounts.GetValue("Store", "sqlite")!;
        switch (store.ToLowerInvariant())
        {
            case "sqlite":
                return builder;
            case "postgres" or "postgresql":
                return builder.AddPostgreSqlStore(o => o.ConnectionString = accounts.GetValue("ConnectionString", "")!);
            default:
                throw new InvalidOperationException($"Tessera:Accounts:Store is '{store}'; it must be sqlite (the default) or postgres.");
        }
    }

    /// <summary><c>Tessera:Redis:Configuration</c> when set (cluster mode), else null.</summary>
    public static string? RedisConfiguration(IConfiguration configuration) =>
        configuration.GetValue<string?>("Tessera:Redis:Configuration") is { Length: > 0 } redis ? redis : null;

    /// <summary>
    /// <c>Tessera:Redis:Sharded</c>: true for Redis 7 sharded pub/sub (Node's <c>createShardedAdapter</c>), false (the
    /// default) for classic pub/sub (Node's <c>createAdapter</c>). Every node of a cluster needs the same value.
    /// </summary>
    public static bool RedisSharded(IConfiguration configuration)
    {
        var value = configuration["Tessera:Redis:Sharded"];
        if (string.IsNullOrWhiteSpace(value))
        {
            return false;
        }
        return bool.TryParse(value, out var sharded)
            ? sharded
            : throw new InvalidOperationException($"Tessera:Redis:Sharded is '{value}'; it must be true (Redis 7 sharded pub/sub, as Node's createShardedAdapter) or false (classic pub/sub, the default).");
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
        o.RefreshReuseGrace = auth.GetValue("RefreshReuseGrace", TimeSpan.Zero);
        o.SigningAlgorithm = auth.GetValue("SigningAlgorithm", "HS256")!.ToUpperInvariant();
        foreach (var file in auth.GetSection("SigningKeyFiles").Get<string[]>() ?? [])
        {
            o.SigningKeyFiles.Add(file);
        }
        o.KeyRotationInterval = auth.GetValue("KeyRotationInterval", TimeSpan.FromDays(30));
        o.KeyPublicationLead = auth.GetValue("KeyPublicationLead", TimeSpan.FromDays(1));
    }

    /// <summary>ASP.NET Core's switch (env ASPNETCORE_FORWARDEDHEADERS_ENABLED=true), as CONTRACT §2 names it.</summary>
    public static bool ForwardedHeadersEnabled(IConfiguration configuration) =>
        string.Equals(configuration["FORWARDEDHEADERS_ENABLED"], "true", StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// X-Forwarded-For and X-Forwarded-Proto, from the proxies in ForwardedHeaders:KnownProxies (addresses) and
    /// ForwardedHeaders:KnownNetworks (CIDR); with neither list, from any peer (ASP.NET Core's behaviour for
    /// ASPNETCORE_FORWARDEDHEADERS_ENABLED: for a server that only a proxy can reach).
    /// </summary>
    private static void ConfigureForwardedHeaders(ForwardedHeadersOptions o, IConfiguration configuration)
    {
        o.ForwardedHeaders = ForwardedHeaders.XForwardedFor | ForwardedHeaders.XForwardedProto;
        o.KnownProxies.Clear();
        o.KnownIPNetworks.Clear();
        var section = configuration.GetSection("ForwardedHeaders");
        foreach (var proxy in section.GetSection("KnownProxies").Get<string[]>() ?? [])
        {
            o.KnownProxies.Add(System.Net.IPAddress.TryParse(proxy, out var address)
                ? address
                : throw new InvalidOperationException($"ForwardedHeaders:KnownProxies: '{proxy}' is not an IP address."));
        }
        foreach (var network in section.GetSection("KnownNetworks").Get<string[]>() ?? [])
        {
            o.KnownIPNetworks.Add(System.Net.IPNetwork.TryParse(network, out var parsed)
                ? parsed
                : throw new InvalidOperationException($"ForwardedHeaders:KnownNetworks: '{network}' is not a CIDR network (e.g. 10.0.0.0/8)."));
        }
    }

    public static void MapTessera(this WebApplication app)
    {
        if (ForwardedHeadersEnabled(app.Configuration))
        {
            // First, so rate limits see the client's address and the refresh cookie is Secure behind TLS termination.
            app.UseForwardedHeaders();
        }
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
        var limits = app.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<ServerLimits>>().Value;
        EventRateLimit.Apply(io.Sockets, limits.EventsPerSecond);
        Chat.Map(io, limits);
        app.MapSocketIO();
        app.MapTesseraAuth();
        app.MapHealthChecks("/healthz");
        MapDemo(app);
    }

    private const string ClientResourcePrefix = "Tessera.Server.tessera-client/";

    /// <summary>
    /// The demo page (CONTRACT §4), every file from the build's embedded resources: the page, its script, the favicon,
    /// the official socket.io-client bundle and the tessera-client package's modules (clients/js, served under
    /// /tessera-client/, which app.js imports). Whether registration is open is rendered into the page
    /// (<c>data-registration</c> on the root element) so that its Register button hides without any inline script.
    /// </summary>
    private static void MapDemo(WebApplication app)
    {
        var allowRegistration = app.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<AccountOptions>>().Value.AllowRegistration;
        var html = System.Text.Encoding.UTF8.GetString(Resource("Tessera.Server.demo.html"));
        const string marker = "data-registration=\"true\"";
        if (!html.Contains(marker, StringComparison.Ordinal))
        {
            throw new InvalidOperationException("The embedded demo page lacks its " + marker + " attribute.");
        }
        var page = System.Text.Encoding.UTF8.GetBytes(html.Replace(marker, allowRegistration ? marker : "data-registration=\"false\"", StringComparison.Ordinal));
        var script = Resource("Tessera.Server.demo.js");
        var favicon = Resource("Tessera.Server.favicon.svg");
        var bundle = Resource("Tessera.Server.socket.io.min.js");
        app.MapGet("/", (HttpContext context) => Static(context, page, "text/html; charset=utf-8"));
        app.MapGet("/app.js", (HttpContext context) => Static(context, script, JavaScript));
        app.MapGet("/favicon.svg", (HttpContext context) => Static(context, favicon, "image/svg+xml"));
        // Browsers that ask for /favicon.ico regardless of the page's <link rel="icon"> get the same picture.
        app.MapGet("/favicon.ico", (HttpContext context) => Static(context, favicon, "image/svg+xml"));
        // Served where Node's socket.io serves it, so existing pages keep their script tag.
        app.MapGet("/socket.io/socket.io.min.js", (HttpContext context) => Static(context, bundle, JavaScript));
        var modules = typeof(ServerSetup).Assembly.GetManifestResourceNames()
            .Where(name => name.StartsWith(ClientResourcePrefix, StringComparison.Ordinal))
            .ToArray();
        if (!modules.Contains(ClientResourcePrefix + "index.js"))
        {
            throw new InvalidOperationException("The embedded tessera-client module (clients/js/dist/index.js) is missing from the build.");
        }
        foreach (var name in modules)
        {
            var path = "/tessera-client/" + name[ClientResourcePrefix.Length..];
            var body = Resource(name);
            var type = path.EndsWith(".map", StringComparison.Ordinal) ? "application/json; charset=utf-8" : JavaScript;
            app.MapGet(path, (HttpContext context) => Static(context, body, type));
        }
    }

    private const string JavaScript = "application/javascript; charset=utf-8";

    /// <summary>
    /// The demo's files, with the headers of CONTRACT §4: a CSP allowing only this origin's scripts (no inline
    /// script; the page's styles are inline), no framing, no MIME sniffing, no referrer.
    /// </summary>
    private static IResult Static(HttpContext context, byte[] body, string contentType)
    {
        var headers = context.Response.Headers;
        headers.ContentSecurityPolicy =
            "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; "
            + "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";
        headers.XContentTypeOptions = "nosniff";
        headers["Referrer-Policy"] = "no-referrer";
        headers.XFrameOptions = "DENY";
        return Results.Bytes(body, contentType);
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
