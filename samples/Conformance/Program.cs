using Tessera.EngineIO;
using Tessera.SocketIO;

// The app the public Engine.IO / Socket.IO protocol test suites run against (shared/CONTRACT.md §1).
var builder = WebApplication.CreateSlimBuilder(args);
if (string.IsNullOrEmpty(builder.Configuration["urls"]))
{
    // "localhost" binds both IPv4 and IPv6 loopback.
    builder.WebHost.UseUrls("http://localhost:3000");
}
builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(3));
builder.Services.AddSocketIO(o =>
{
    o.ConnectTimeout = TimeSpan.FromMilliseconds(1000);
    SuiteTimings(o.EngineIO);
});
var app = builder.Build();

app.MapEngineIO("/engine.io", new EchoHandler(), SuiteTimings);

var io = app.Services.GetRequiredService<SocketIOServer>();
foreach (var ns in new[] { io.Of("/"), io.Of("/custom") })
{
    // The suites expect an "auth" event echoing the CONNECT payload right after the CONNECT reply.
    ns.OnConnection(socket => socket.Emit("auth", socket.Handshake.Auth));
}
io.OnConnection(socket =>
{
    socket.On("message", e => e.Socket.Emit("message-back", e.Args));
    socket.On("message-with-ack", e => e.Ack(e.Args));
});
app.MapSocketIO();

app.Run();

static void SuiteTimings(EngineIOOptions o)
{
    o.PingInterval = TimeSpan.FromMilliseconds(300);
    o.PingTimeout = TimeSpan.FromMilliseconds(200);
    o.MaxPayload = 1_000_000;
    // CONTRACT §5: the engine.io-protocol suite's v3 branch runs against the app started with ALLOW_EIO3=1.
    o.AllowEIO3 = Environment.GetEnvironmentVariable("ALLOW_EIO3") == "1";
}

/// <summary>Echoes every message unchanged: text as text, binary as binary.</summary>
internal sealed class EchoHandler : EngineIOHandler
{
    public override ValueTask OnMessageAsync(EngineIOSocket socket, EngineIOMessage message)
    {
        socket.Send(message.IsBinary
            ? EngineIOOutgoingMessage.Binary(message.Data.ToArray())
            : EngineIOOutgoingMessage.Text(message.Data.Span));
        return default;
    }
}
