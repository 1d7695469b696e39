using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Tessera.Tests.Shared;

/// <summary>
/// A real Kestrel on 127.0.0.1 (port 0 unless given) for tests: build, configure, start, report the URL.
/// Engine.IO WebSocket handshakes take the direct connection path unless <c>directWebSockets</c> is false, as in
/// the bench app; the managed path stays covered by the tests that ask for it and by every upgrade from polling.
/// </summary>
public static class LoopbackApp
{
    public static async Task<(WebApplication App, string BaseUrl)> StartAsync(
        Action<WebApplicationBuilder> configureBuilder,
        Action<WebApplication> configureApp,
        int port = 0,
        ILoggerProvider? logs = null,
        bool directWebSockets = true,
        Action<Tessera.EngineIO.EngineIODirectWebSocketOptions>? direct = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Services.AddEngineIO();
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, port, listen =>
        {
            if (directWebSockets)
            {
                listen.UseEngineIODirectWebSockets(direct);
            }
        }));
        builder.Logging.ClearProviders();
        if (logs is not null)
        {
            builder.Logging.SetMinimumLevel(LogLevel.Debug);
            builder.Logging.AddProvider(logs);
        }
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(5));
        configureBuilder(builder);
        var app = builder.Build();
        configureApp(app);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return (app, address.Replace("[::]", "127.0.0.1"));
    }
}
