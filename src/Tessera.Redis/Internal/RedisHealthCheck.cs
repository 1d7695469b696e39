using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Tessera.Redis.Internal;

/// <summary>/healthz answers 503 while Redis is unreachable (each node still serves its own clients).</summary>
internal sealed class RedisHealthCheck(RedisConnection redis) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(redis.IsConnected ? HealthCheckResult.Healthy() : HealthCheckResult.Unhealthy("Redis is unreachable."));
}
