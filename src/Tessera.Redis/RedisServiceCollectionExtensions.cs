using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Tessera.Redis;
using Tessera.Redis.Internal;
using Tessera.SocketIO;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Adds the Redis cluster adapter to <c>services.AddSocketIO()</c>.</summary>
public static class RedisServiceCollectionExtensions
{
    /// <summary>
    /// Cluster mode: every namespace uses a Redis adapter (interoperable with Node's @socket.io/redis-adapter:
    /// <c>createAdapter</c>, or <c>createShardedAdapter</c> with <see cref="RedisOptions.Sharded"/>), so broadcasts,
    /// rooms and server-side events reach every node, and /healthz reports Redis. Registers the connection as <c>IConnectionMultiplexer</c> unless the application has one. Call after AddSocketIO.
    /// </summary>
    public static ISocketIOBuilder AddRedisAdapter(this ISocketIOBuilder builder, Action<RedisOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(configure);
        var services = builder.Services;
        services.AddOptions<RedisOptions>().Configure(configure).Validate(o => !string.IsNullOrWhiteSpace(o.Configuration), "RedisOptions: Configuration (Tessera:Redis:Configuration) is empty.")
            .Validate(o => Enum.IsDefined(o.SubscriptionMode), "RedisOptions: SubscriptionMode is not one of Static, Dynamic, DynamicPrivate.").ValidateOnStart();
        services.TryAddSingleton<RedisConnection>();
        services.AddHostedService(sp => sp.GetRequiredService<RedisConnection>());
        // The adapter's connection, for whatever else of the application needs Redis (the server's cluster-wide rate limits).
        services.TryAddSingleton<StackExchange.Redis.IConnectionMultiplexer>(sp => sp.GetRequiredService<RedisConnection>().Multiplexer);
        services.AddSingleton<IConfigureOptions<SocketIOOptions>>(sp => new ConfigureOptions<SocketIOOptions>(o =>
        {
            var redis = sp.GetRequiredService<RedisConnection>();
            var logger = sp.GetRequiredService<ILoggerFactory>().CreateLogger("Tessera.Redis");
            o.AdapterFactory = redis.Options.Sharded
                ? ns => new ShardedRedisAdapter(ns, redis, logger)
                : ns => new RedisAdapter(ns, redis, logger);
        }));
        services.AddHealthChecks().AddCheck<RedisHealthCheck>("redis");
        return builder;
    }
}

