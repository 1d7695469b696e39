using System.Collections.Concurrent;
using System.Security.Claims;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

using Tessera.Auth;
using Tessera.SocketIO;

namespace Tessera.Accounts.Internal;

/// <summary>
/// Carries revocations to the sockets they concern: this node's at once, and every other node's through the
/// Socket.IO adapter's server-side events (Node's <c>serverSideEmit</c>; over Redis in a cluster), so neither
/// this package nor the adapter needs to know the other. The store's revocation log remains the fallback.
/// </summary>
internal sealed class RevocationBus
{
    /// <summary>The server-side event on the main namespace: <c>{sid}</c> or <c>{sub}</c>.</summary>
    internal const string EventName = "tessera:revoke";

    private readonly AuthenticatedSockets _sockets;
    private readonly StoreRevocation _revocation;
    private readonly SocketIOServer _io;

    public RevocationBus(AuthenticatedSockets sockets, StoreRevocation revocation, SocketIOServer io)
    {
        _sockets = sockets;
        _revocation = revocation;
        _io = io;
        io.OnServerSideEmit(EventName, OnRemote);
    }

    public ValueTask RevokeSessionAsync(string sessionId)
    {
        ApplySession(sessionId);
        return _io.ServerSideEmitAsync(EventName, new Notice(sessionId, null));
    }

    public ValueTask RevokeUserAsync(string userId)
    {
        ApplyUser(userId);
        return _io.ServerSideEmitAsync(EventName, new Notice(null, userId));
    }

    /// <summary>Applies a revocation on this node only (what another process recorded in the store's log).</summary>
    public void ApplySession(string sessionId)
    {
        _revocation.MarkSessionRevoked(sessionId);
        _sockets.RevokeSession(sessionId);
    }

    /// <inheritdoc cref="ApplySession"/>
    public void ApplyUser(string userId)
    {
        _revocation.ForgetNegatives();
        _sockets.RevokeUser(userId);
    }

    private ValueTask OnRemote(SocketIOServerSideEvent e)
    {
        if (e.Args.Count > 0 && e.Args[0].ValueKind == System.Text.Json.JsonValueKind.Object)
        {
            var notice = e.Args[0];
            if (notice.TryGetProperty("sid", out var sid) && sid.ValueKind == System.Text.Json.JsonValueKind.String)
            {
                ApplySession(sid.GetString()!);
            }
            else if (notice.TryGetProperty("sub", out var sub) && sub.ValueKind == System.Text.Json.JsonValueKind.String)
            {
                ApplyUser(sub.GetString()!);
            }
        }
        return ValueTask.CompletedTask;
    }

    private sealed record Notice(
        [property: System.Text.Json.Serialization.JsonPropertyName("sid"), System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)] string? SessionId,
        [property: System.Text.Json.Serialization.JsonPropertyName("sub"), System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)] string? UserId);
}

/// <summary>
/// Whether an access token is refused as revoked, asked at every handshake and refresh. A token of this server (its
/// <c>iss</c> is <see cref="AccountOptions.Issuer"/>) must name, in <c>sid</c> and <c>sub</c>, a session of that user
/// that is not revoked, of a user that exists and is enabled: a token without <c>sid</c> or <c>sub</c>, for an unknown
/// or disabled user, or for another user's or an unknown session is refused as <c>token_revoked</c> (the answer the
/// <see cref="IAccessTokenRevocation"/> seam gives; the client's remedy, logging in again, is the same as for
/// <c>token_invalid</c>). Tokens of other issuers the application trusts are not this store's to judge.
/// Refusals are remembered for good (a session never comes back), acceptances for one second, which bounds how long
/// another node's revocation can go unseen here: one store read per session and second at most.
/// </summary>
internal sealed class StoreRevocation(IAccountStore store, IOptions<AccountOptions> options, TimeProvider? time = null) : IAccessTokenRevocation
{
    private static readonly TimeSpan NegativeTtl = TimeSpan.FromSeconds(1);
    private const int MaxRemembered = 100_000;
    private readonly ConcurrentDictionary<string, byte> _revoked = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<(string Session, string User), byte> _refused = new();
    private readonly ConcurrentDictionary<(string Session, string User), DateTimeOffset> _valid = new();
    private readonly TimeProvider _time = time ?? TimeProvider.System;
    private readonly string _issuer = options.Value.Issuer;

    public async ValueTask<bool> IsRevokedAsync(ClaimsPrincipal user, CancellationToken cancellationToken = default)
    {
        var subject = user.FindFirst("sub") ?? user.FindFirst(ClaimTypes.NameIdentifier);
        var issuer = user.FindFirst("iss")?.Value ?? subject?.Issuer;
        if (!string.Equals(issuer, _issuer, StringComparison.Ordinal))
        {
            // Not a token of this store (an external issuer's, a cookie principal): nothing to judge it by.
            return false;
        }
        var sessionId = (user.FindFirst("sid") ?? user.FindFirst(ClaimTypes.Sid))?.Value;
        if (string.IsNullOrEmpty(sessionId) || string.IsNullOrEmpty(subject?.Value))
        {
            // This server issues every token with both; one without was not minted by a login or the command line.
            return true;
        }
        if (_revoked.ContainsKey(sessionId))
        {
            return true;
        }
        var key = (sessionId, subject.Value);
        if (_refused.ContainsKey(key))
        {
            return true;
        }
        var now = _time.GetUtcNow();
        if (_valid.TryGetValue(key, out var until) && until > now)
        {
            return false;
        }
        if (!await store.IsSessionActiveAsync(sessionId, subject.Value, cancellationToken).ConfigureAwait(false))
        {
            // Keyed by session and user: a token naming someone else's session does not condemn that session.
            if (_refused.Count >= MaxRemembered)
            {
                _refused.Clear();
            }
            _refused[key] = 0;
            _valid.TryRemove(key, out _);
            return true;
        }
        if (_valid.Count >= MaxRemembered)
        {
            _valid.Clear();
        }
        _valid[key] = now + NegativeTtl;
        return false;
    }

    public void MarkSessionRevoked(string sessionId) => _revoked[sessionId] = 0;

    /// <summary>After a user-wide revocation: every cached "not revoked" may now be wrong.</summary>
    public void ForgetNegatives() => _valid.Clear();
}

/// <summary>
/// Reads the store's revocation log and applies what other processes recorded (another node's logout, the
/// command line disabling a user) to this node's sockets. Without a cluster adapter it polls every
/// <see cref="AccountOptions.RevocationPollInterval"/>, needing nothing but the shared store; with one (Redis), revocations
/// arrive as server-side events at once and the log is read only every <see cref="AccountOptions.RevocationCatchUpInterval"/>,
/// for what was recorded while the adapter was away.
/// </summary>
internal sealed partial class RevocationFeed(
    IAccountStore store,
    RevocationBus bus,
    SocketIOServer io,
    IOptions<AccountOptions> options,
    ILogger<RevocationFeed> logger) : BackgroundService
{
    /// <summary>The interval this node reads the log at.</summary>
    internal TimeSpan Interval => io.Of("/").Adapter.ReachesOtherNodes ? options.Value.RevocationCatchUpInterval : options.Value.RevocationPollInterval;

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
        using var timer = new PeriodicTimer(Interval);
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
                            bus.ApplySession(session);
                        }
                        else if (revocation.UserId is { } user)
                        {
                            bus.ApplyUser(user);
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
