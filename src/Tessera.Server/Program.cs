using Tessera.SocketIO;

// Tessera's runnable server. For now it serves Socket.IO at /socket.io/ with an "echo" event;
// authentication, accounts and the demo chat page land on top of it in the next issues.
var builder = WebApplication.CreateSlimBuilder(args);
if (string.IsNullOrEmpty(builder.Configuration["urls"]))
{
    builder.WebHost.UseUrls("http://localhost:3000");
}
builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(3));
builder.Services.AddSocketIO();
var app = builder.Build();

var io = app.Services.GetRequiredService<SocketIOServer>();
io.OnConnection(socket => socket.On("echo", e =>
{
    if (!e.Ack(e.Args))
    {
        e.Socket.Emit("echo", e.Args);
    }
}));
app.MapSocketIO();
app.MapGet("/healthz", () => Results.Text("ok"));
app.MapGet("/", () => Results.Text("Tessera is running. Socket.IO endpoint: /socket.io/\n"));

app.Lifetime.ApplicationStarted.Register(() =>
{
    foreach (var url in app.Urls)
    {
        Console.WriteLine($"Tessera listening on {url}");
    }
});
app.Run();
