using Tessera.Server;

// `dotnet run --project src/Tessera.Server` starts the server; `… -- users add alice --password …` and the other
// commands of Cli.cs manage accounts in the same data directory.
var builder = WebApplication.CreateSlimBuilder(args);
if (Cli.IsCommand(args))
{
    return await Cli.RunAsync(args, builder.Configuration);
}
if (string.IsNullOrEmpty(builder.Configuration["urls"]))
{
    builder.WebHost.UseUrls("http://localhost:3000");
}
builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(3));
// WebSocket handshakes on /socket.io/ are answered at Kestrel's connection level (docs/architecture.md): nothing
// in this app's HTTP pipeline applies to them. Tessera:DirectWebSockets=false routes them through it instead; so
// does running behind a proxy (ASPNETCORE_FORWARDEDHEADERS_ENABLED), where the client's address and scheme come
// from the forwarded headers that only the HTTP pipeline reads.
if (builder.Configuration.GetValue("Tessera:DirectWebSockets", !ServerSetup.ForwardedHeadersEnabled(builder.Configuration)))
{
    // Half-open connections are bounded there too (Tessera:Limits:PendingRequestHeadsPerAddress, docs/reliability.md).
    var pendingHeads = ServerSetup.Limits(builder.Configuration).PendingRequestHeadsPerAddress;
    builder.WebHost.ConfigureKestrel(k => k.UseEngineIODirectWebSockets(o => o.MaxPendingRequestHeadsPerAddress = pendingHeads));
}
builder.Services.AddTessera(builder.Configuration);
var app = builder.Build();
app.MapTessera();

app.Lifetime.ApplicationStarted.Register(() =>
{
    var data = Path.GetFullPath(app.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<Tessera.Accounts.AccountOptions>>().Value.DataDirectory);
    foreach (var url in app.Urls)
    {
        Console.WriteLine($"Tessera listening on {url}");
    }
    Console.WriteLine($"  demo page       {app.Urls.FirstOrDefault()}/");
    Console.WriteLine($"  data directory  {data}");
    Console.WriteLine("  create a user   register on the demo page, or: dotnet run --project src/Tessera.Server -- users add <name> --password <password>");
});
await app.RunAsync();
return 0;
