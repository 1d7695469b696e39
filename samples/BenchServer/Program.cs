using Tessera.Auth;
using Tessera.SocketIO;

// The app the benchmarks measure (shared/CONTRACT.md §1): the same behaviour as bench/reference, Node's
// socket.io server doing what the tutorial does. JWT HS256 from JWT_SECRET on "/", echo, broadcast, /stats.
var builder = WebApplication.CreateSlimBuilder(args);
var port = Environment.GetEnvironmentVariable("PORT") is { Length: > 0 } p ? p : "3000";
if (string.IsNullOrEmpty(builder.Configuration["urls"]))
{
    builder.WebHost.UseUrls($"http://0.0.0.0:{port}");
}
builder.Logging.SetMinimumLevel(LogLevel.Warning);
builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(3));
var secret = Environment.GetEnvironmentVariable("JWT_SECRET");
if (string.IsNullOrEmpty(secret) || System.Text.Encoding.UTF8.GetByteCount(secret) < 32)
{
    Console.Error.WriteLine("JWT_SECRET must be set to a secret of at least 32 bytes (UTF-8).");
    return 2;
}
builder.Services.AddSocketIO();
builder.Services.AddJwtAuthentication(o =>
{
    o.AddHmacSecret(secret);
    // As the tutorial's jwt.verify(token, SECRET): jsonwebtoken's "JWT" type, no iss/aud, exp optional.
    o.ValidTokenTypes.Clear();
    o.ValidTokenTypes.Add("JWT");
    o.RequireExpirationTime = false;
    o.Namespaces = new HashSet<string> { "/" };
});
var app = builder.Build();

var io = app.Services.GetRequiredService<SocketIOServer>();
io.OnConnection(socket =>
{
    socket.On("echo", e =>
    {
        if (!e.Ack(e.Args))
        {
            e.Socket.Emit("echo", e.Args);
        }
    });
    socket.On("broadcast", e =>
    {
        // Encoded once for every connected socket.
        io.Emit("broadcast", e.Args);
        e.Ack(new { ok = true });
    });
    socket.On("whoami", e => e.Ack(new { sub = e.Socket.User.FindFirst("sub")?.Value, name = e.Socket.User.FindFirst("name")?.Value }));
});
app.MapSocketIO();
app.MapGet("/stats", () => Results.Json(new
{
    connectedSockets = io.Sockets.Sockets.Count,
    clients = io.ClientsCount,
}));
app.Run();
return 0;
