using Tessera.EngineIO;

// The app the public Engine.IO / Socket.IO protocol test suites run against (shared/CONTRACT.md §1).
var builder = WebApplication.CreateSlimBuilder(args);
if (string.IsNullOrEmpty(builder.Configuration["urls"]))
{
    // "localhost" binds both IPv4 and IPv6 loopback.
    builder.WebHost.UseUrls("http://localhost:3000");
}
builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(3));
var app = builder.Build();

app.MapEngineIO("/engine.io", new EchoHandler(), o =>
{
    o.PingInterval = TimeSpan.FromMilliseconds(300);
    o.PingTimeout = TimeSpan.FromMilliseconds(200);
    o.MaxPayload = 1_000_000;
});

app.Run();

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
