using Tessera.EngineIO;

// Tessera's runnable server. For now it hosts the Engine.IO layer (an echo endpoint at /engine.io/);
// Socket.IO, authentication and the demo page land on top of it in the next issues.
var builder = WebApplication.CreateSlimBuilder(args);
if (string.IsNullOrEmpty(builder.Configuration["urls"]))
{
    builder.WebHost.UseUrls("http://localhost:3000");
}
builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(3));
var app = builder.Build();

app.MapEngineIO("/engine.io", new EchoHandler());
app.MapGet("/healthz", () => Results.Text("ok"));
app.MapGet("/", () => Results.Text("Tessera is running. Engine.IO endpoint: /engine.io/\n"));

app.Lifetime.ApplicationStarted.Register(() =>
{
    foreach (var url in app.Urls)
    {
        Console.WriteLine($"Tessera listening on {url}");
    }
});
app.Run();

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
