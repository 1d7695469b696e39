using System.Net;
using System.Threading.RateLimiting;

namespace Tessera.EngineIO.Internal;

/// <summary>
/// New sessions per client address and second (<see cref="EngineIOOptions.MaxHandshakesPerSecondPerAddress"/>):
/// a token bucket per address group (as <see cref="AddressLimiter"/> groups them), bursts of twice the rate (or of
/// MaxConnectionsPerAddress, if larger: as many sessions as may be open at once can be opened at once), so
/// a handshake flood from one address is refused with 429 before it costs a session each. Idle buckets are
/// dropped by the partitioned limiter itself.
/// </summary>
internal sealed class HandshakeRateLimiter(int perSecond, int burst)
{
    private readonly PartitionedRateLimiter<UInt128> _limiter = PartitionedRateLimiter.Create<UInt128, UInt128>(key =>
        RateLimitPartition.GetTokenBucketLimiter(key, _ => new TokenBucketRateLimiterOptions
        {
            TokenLimit = burst,
            TokensPerPeriod = perSecond,
            ReplenishmentPeriod = TimeSpan.FromSeconds(1),
            AutoReplenishment = true,
            QueueLimit = 0,
        }));

    public int PerSecond { get; } = perSecond;

    /// <summary>Takes a token for a handshake from <paramref name="address"/>; false when its bucket is empty.</summary>
    public bool TryAcquire(IPAddress? address)
    {
        if (AddressLimiter.Key(address) is not { } key)
        {
            return true;
        }
        using var lease = _limiter.AttemptAcquire(key);
        return lease.IsAcquired;
    }
}
