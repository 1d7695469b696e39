using Microsoft.Extensions.Diagnostics.HealthChecks;
using Tessera.Accounts;

namespace Tessera.Server;

/// <summary>/healthz is unhealthy (503) when the account store cannot answer a query or commit a write.</summary>
public sealed class StoreHealthCheck(IAccountStore store) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            await store.CheckHealthAsync(cancellationToken).ConfigureAwait(false);
            return HealthCheckResult.Healthy();
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            return HealthCheckResult.Unhealthy("The account store is unavailable.", ex);
        }
    }
}
