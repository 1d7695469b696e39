using System.Text.Json.Serialization;
using Tessera.Auth;
using Tessera.SocketIO;

// The app the benchmarks measure (shared/CONTRACT.md §1): the same behaviour as bench/reference, Node's
// socket.io server doing what the tutorial does. JWT HS256 from JWT_SECRET on "/", echo, broadcast, /stats.

// Socket completions run inline on the epoll thread (about a quarter less CPU per echo here; the handlers never block).
// The runtime reads this variable once, when the first socket is made: set here, before anything opens one, the app
// applies it itself rather than asking whoever starts it (an explicit value in the environment wins).
if (Environment.GetEnvironmentVariable("DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS") is null)
{
    Environment.SetEnvironmentVariable("DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS", "1");
}
// On one core (bench/run.sh pins the server to one) an idle thread-pool worker's spinning (sched_yield, 70 rounds by
// default) only takes the core from the thread that has the work: perf put a fifth of a handshake's CPU there. The
// pool reads this once, at its first use, which is after this line.
if (Environment.ProcessorCount == 1)
{
    AppContext.SetData("System.Threading.ThreadPool.UnfairSemaphoreSpinLimit", 0);
}
var builder = WebApplication.CreateSlimBuilder(args);
var port = Environment.GetEnvironmentVariable("PORT") is { Length: > 0 } p ? p : "3000";
if (string.IsNullOrEmpty(builder.Configuration["urls"]))
{
    builder.WebHost.UseUrls($"http://0.0.0.0:{port}");
}
// WebSocket handshakes are answered below Kestrel's HTTP stack (the app has no HTTP middleware they would skip),
// and pipe continuations run inline: the handlers here never block.
builder.WebHost.ConfigureKestrel(k => k.UseEngineIODirectWebSockets());
builder.WebHost.UseSockets(o => o.UnsafePreferInlineScheduling = true);
builder.Logging.SetMinimumLevel(LogLevel.Warning);
builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(3));
var secret = Environment.GetEnvironmentVariable("JWT_SECRET");
if (string.IsNullOrEmpty(secret) || System.Text.Encoding.UTF8.GetByteCount(secret) < 32)
{
    Console.Error.WriteLine("JWT_SECRET must be set to a secret of at least 32 bytes (UTF-8).");
    return 2;
}
// The app's payloads come from a source-generated context (what Native AOT needs; bench/run.sh publishes it so).
var socketIO = builder.Services.AddSocketIO(o => o.SerializerOptions.TypeInfoResolverChain.Insert(0, BenchJson.Default));
builder.Services.ConfigureHttpJsonOptions(o => o.SerializerOptions.TypeInfoResolverChain.Insert(0, BenchJson.Default));
// With REDIS (a StackExchange.Redis configuration), the Redis adapter joins the nodes (bench/run.sh's cross-node fan-out).
if (Environment.GetEnvironmentVariable("REDIS") is { Length: > 0 } redis)
{
    socketIO.AddRedisAdapter(o => o.Configuration = redis);
}
socketIO.AddJwtAuthentication(o =>
{
    o.AddHmacSecret(secret);
    // As the tutorial's jwt.verify(token, SECRET): jsonwebtoken's "JWT" type, no iss/aud, exp optional.
    o.AllowAnyIssuer = true;
    o.AllowAnyAudience = true;
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
        e.Ack(new Ok(true));
    });
    socket.On("whoami", e => e.Ack(new WhoAmI(e.Socket.User.FindFirst("sub")?.Value, e.Socket.User.FindFirst("name")?.Value)));
});
app.MapSocketIO();
app.MapGet("/stats", () => new Stats(
    io.Sockets.Sockets.Count,
    io.ClientsCount,
    // Diagnostics for the benchmark report: allocation and collections since start.
    GC.GetTotalAllocatedBytes(),
    GC.CollectionCount(0),
    GC.CollectionCount(1),
    GC.CollectionCount(2),
    GC.GetGCMemoryInfo().HeapSizeBytes,
    // Work items the thread pool ran: each one is a hand-off from the socket thread (a context switch on one core).
    ThreadPool.CompletedWorkItemCount));
if (Environment.GetEnvironmentVariable("BENCH_ALLOCATIONS") == "1")
{
    var sampler = new Tessera.BenchServer.AllocationSampler();
    app.MapGet("/stats/allocations", () => sampler.Top(40).ToDictionary(p => p.Key, p => p.Value));
    // The live managed heap after a full collection, to tell live objects from garbage in RSS figures.
    app.MapGet("/stats/live", () =>
    {
        var live = GC.GetTotalMemory(forceFullCollection: true);
        var info = GC.GetGCMemoryInfo();
        return new LiveStats(live, info.TotalCommittedBytes, info.FragmentedBytes, Environment.WorkingSet, io.Sockets.Sockets.Count);
    });
}
app.Run();
return 0;

internal sealed record Ok(bool ok);
internal sealed record WhoAmI(string? sub, string? name);
internal sealed record Stats(int connectedSockets, int clients, long allocatedBytes, int gen0, int gen1, int gen2, long heapBytes, long threadPoolWorkItems);
internal sealed record LiveStats(long liveBytes, long committedBytes, long fragmentedBytes, long rssBytes, int connectedSockets);

[JsonSerializable(typeof(Ok))]
[JsonSerializable(typeof(WhoAmI))]
[JsonSerializable(typeof(Stats))]
[JsonSerializable(typeof(LiveStats))]
[JsonSerializable(typeof(Dictionary<string, long>))]
internal sealed partial class BenchJson : JsonSerializerContext;
