using Tessera.Server;

// `dotnet run --project src/Tessera.Server` starts the server; `… -- users add alice --password …` and the other
// commands of Cli.cs manage accounts in the same data directory.
// On one core an idle thread-pool worker's spinning (sched_yield) only takes the core from the thread that has the
// work (docs/benchmarks.md: a fifth of a handshake's CPU). The pool reads this at its first use, after this line.
if (Environment.ProcessorCount == 1)
{
    AppContext.SetData("System.Threading.ThreadPool.UnfairSemaphoreSpinLimit", 0);
}
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
WebApplication app;
try
{
    builder.Services.AddTessera(builder.Configuration);
    app = builder.Build();
    app.MapTessera();
}
catch (Exception ex) when (ex is InvalidOperationException or Microsoft.Extensions.Options.OptionsValidationException)
{
    // A configuration error: one line saying what to fix, not a stack trace.
    Console.Error.WriteLine("tessera: " + ex.Message);
    return 1;
}

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
try
{
    await app.RunAsync();
}
catch (Exception ex) when (ex is InvalidOperationException or Microsoft.Extensions.Options.OptionsValidationException or System.Data.Common.DbException)
{
    // Found while starting (options validated at start, a signing key file, the database unreachable): the host has
    // logged the details; the last line says what to fix.
    Console.Error.WriteLine("tessera: could not start: " + ex.Message);
    return 1;
}
return 0;
