using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Tessera.SocketIO;

namespace Tessera.Redis.Tests;

/// <summary>A Tessera node for the cluster tests: real Kestrel on 127.0.0.1 with the Redis adapter on a real redis-server.</summary>
internal sealed class TesseraNode : IAsyncDisposable
{
    private readonly WebApplication _app;

    private TesseraNode(WebApplication app, string baseUrl)
    {
        _app = app;
        BaseUrl = baseUrl;
        Io = app.Services.GetRequiredService<SocketIOServer>();
    }

    public string BaseUrl { get; }

    public SocketIOServer Io { get; }

    /// <summary>Starts a node; <paramref name="configure"/> adds its handlers. The main namespace's adapter is
    /// created (and subscribed) before this returns.</summary>
    public static async Task<TesseraNode> StartAsync(RedisServer redis, Action<RedisOptions>? redisOptions, Action<SocketIOServer> configure)
    {
        var (app, url) = await LoopbackApp.StartAsync(
            builder => builder.Services.AddSocketIO().AddRedisAdapter(o =>
            {
                o.Configuration = redis.Configuration;
                redisOptions?.Invoke(o);
            }),
            app =>
            {
                configure(app.Services.GetRequiredService<SocketIOServer>());
                app.MapSocketIO();
            });
        var node = new TesseraNode(app, url);
        _ = node.Io.Sockets.Adapter;
        return node;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
