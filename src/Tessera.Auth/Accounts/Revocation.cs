using System.Collections.Concurrent;
using System.Security.Claims;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Tessera.Auth.Accounts;

/// <summary>
/// Carries revocations to the sockets they concern. The local implementation disconnects this node's sockets;
/// a cluster bus (Redis) implements the same interface to reach every node.
/// </summary>
public interface IRevocationBus
{
    ValueTask RevokeSessionAsync(string sessionId, CancellationToken cancellationToken = default);

    ValueTask RevokeUserAsync(string userId, CancellationToken cancellationToken = default);
}

/// <summary>Revocation on this node: sockets get <c>auth:revoked</c> and are disconnected at once.</summary>
public sealed class LocalRevocationBus(AuthenticatedSockets sockets, StoreRevocation revocation) : IRevocationBus
{
    public ValueTask RevokeSessionAsync(string sessionId, CancellationToken cancellationToken = default)
    {
        revocation.MarkSessionRevoked(sessionId);
        sockets.RevokeSession(sessionId);
        return ValueTask.CompletedTask;
    }

    public ValueTask RevokeUserAsync(string userId, CancellationToken cancellationToken = default)
    {
        revocation.ForgetNegatives();
        sockets.RevokeUser(userId);
        return ValueTask.CompletedTask;
    }
}

/// <summary>
/// Whether an access token's session is revoked, asked at every handshake and refresh. Revoked sessions are
/// remembered for good; "not revoked" answers for one second, which bounds how long another node's revocation
/// can go unseen here.
/// </summary>
public sealed class StoreRevocation(IAccountStore store, TimeProvider? time = null) : IAccessTokenRevocation
{
    private static readonly TimeSpan NegativeTtl = TimeSpan.FromSeconds(1);
    private readonly ConcurrentDictionary<string, byte> _revoked = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, DateTimeOffset> _valid = new(StringComparer.Ordinal);
    private readonly TimeProvider _time = time ?? TimeProvider.System;

    public async ValueTask<bool> IsRevokedAsync(ClaimsPrincipal user, CancellationToken cancellationToken = default)
    {
        var sessionId = user.FindFirst("sid")?.Value;
        if (sessionId is null)
        {
            // Not a token of this store (an external issuer's): nothing to revoke it by.
            return false;
        }
        if (_revoked.ContainsKey(sessionId))
        {
            return true;
        }
        var now = _time.GetUtcNow();
        if (_valid.TryGetValue(sessionId, out var until) && until > now)
        {
            return false;
        }
        if (await store.IsSessionRevokedAsync(sessionId, cancellationToken).ConfigureAwait(false))
        {
            MarkSessionRevoked(sessionId);
            return true;
        }
        if (_valid.Count > 100_000)
        {
            _valid.Clear();
        }
        _valid[sessionId] = now + NegativeTtl;
        return false;
    }

    public void MarkSessionRevoked(string sessionId)
    {
        _revoked[sessionId] = 0;
        _valid.TryRemove(sessionId, out _);
    }

    /// <summary>After a user-wide revocation: every cached "not revoked" may now be wrong.</summary>
    public void ForgetNegatives() => _valid.Clear();
}

/// <summary>
/// Reads the store's revocation log and applies what other processes recorded (another node's logout, the
/// command line disabling a user) to this node's sockets. Polled, so it needs nothing but the shared store.
/// </summary>
public sealed partial class RevocationFeed(
    IAccountStore store,
    IRevocationBus bus,
    IOptions<AccountOptions> options,
    ILogger<RevocationFeed> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        long last;
        try
        {
            last = await store.LastRevocationIdAsync(stoppingToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return;
        }
        using var timer = new PeriodicTimer(options.Value.RevocationPollInterval);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
            {
                try
                {
                    foreach (var revocation in await store.RevocationsAfterAsync(last, stoppingToken).ConfigureAwait(false))
                    {
                        last = revocation.Id;
                        if (revocation.SessionId is { } session)
                        {
                            await bus.RevokeSessionAsync(session, stoppingToken).ConfigureAwait(false);
                        }
                        else if (revocation.UserId is { } user)
                        {
                            await bus.RevokeUserAsync(user, stoppingToken).ConfigureAwait(false);
                        }
                    }
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    Log.FeedFailed(logger, ex);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private static partial class Log
    {
        [LoggerMessage(301, LogLevel.Warning, "Reading the revocation log failed; retrying.")]
        public static partial void FeedFailed(ILogger logger, Exception exception);
    }
}
