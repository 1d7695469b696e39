using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Tessera.Auth.Accounts;
using Tessera.Redis;
using Tessera.SocketIO;

namespace Microsoft.Extensions.DependencyInjection;

public static class RedisServiceCollectionExtensions
{
    /// <summary>
    /// Cluster mode: every namespace uses <see cref="RedisAdapter"/> (interoperable with Node's
    /// @socket.io/redis-adapter), revocations travel over Redis, and /healthz reports Redis. Call after
    /// AddSocketIO (and AddTesseraAccounts, if used).
    /// </summary>
    public static IServiceCollection AddTesseraRedis(this IServiceCollection services, Action<RedisOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        services.AddOptions<RedisOptions>().Configure(configure).Validate(o => !string.IsNullOrWhiteSpace(o.Configuration), "Tessera:Redis:Configuration is empty.");
        services.TryAddSingleton<RedisConnection>();
        services.AddHostedService(sp => sp.GetRequiredService<RedisConnection>());
        services.AddSingleton<IConfigureOptions<SocketIOOptions>>(sp => new ConfigureOptions<SocketIOOptions>(o =>
        {
            var redis = sp.GetRequiredService<RedisConnection>();
            var logger = sp.GetRequiredService<ILoggerFactory>().CreateLogger("Tessera.Redis");
            o.AdapterFactory = ns => new RedisAdapter(ns, redis, logger);
        }));
        services.Replace(ServiceDescriptor.Singleton<IRevocationBus, RedisRevocationBus>());
        services.AddHealthChecks().AddCheck<RedisHealthCheck>("redis");
        return services;
    }
}

