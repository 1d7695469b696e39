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
builder.Services.AddTessera(builder.Configuration);
var app = builder.Build();
app.MapTessera();

app.Lifetime.ApplicationStarted.Register(() =>
{
    foreach (var url in app.Urls)
    {
        Console.WriteLine($"Tessera listening on {url}");
    }
});
await app.RunAsync();
return 0;
