using System.Collections.Concurrent;
using System.Security.Claims;
using Microsoft.Extensions.Options;
using Tessera.Auth.Internal;
using Tessera.SocketIO;

namespace Tessera.Auth;

/// <summary>
/// Every authenticated socket on this node, by login session (<c>sid</c> claim) and user (<c>sub</c>), with the
/// deadlines of its token: <c>auth:expiring</c> before <c>exp</c>, <c>auth:expired</c> and a disconnect after it,
/// unless the client refreshes in-band. Revocation (logout, theft detection) goes through here too.
/// </summary>
public sealed class AuthenticatedSockets : IDisposable
{
    /// <summary>
    /// <c>auth:expiring</c>, emitted to a socket with <c>{expiresAt}</c> (Unix time in milliseconds)
    /// <see cref="JwtAuthenticationOptions.ExpiryWarning"/> before its token's <c>exp</c>, or at once if the token lives less.
    /// </summary>
    public const string ExpiringEvent = "auth:expiring";
    /// <summary>
    /// <c>auth:expired</c>, emitted with <c>{code:"token_expired"}</c> when <c>exp</c> plus
    /// <see cref="JwtAuthenticationOptions.ClockSkew"/> passes without a refresh; the socket is then disconnected from the namespace.
    /// </summary>
    public const string ExpiredEvent = "auth:expired";
    /// <summary>
    /// <c>auth:revoked</c>, emitted with <c>{code:"token_revoked"}</c> when the socket's session or user is revoked; the socket is
    /// then disconnected from the namespace.
    /// </summary>
    public const string RevokedEvent = "auth:revoked";
    /// <summary>
    /// <c>auth:refresh</c>, emitted by the client with <c>(token, ack)</c> to replace its token in-band; acknowledged with
    /// <c>{ok:true, expiresAt}</c> or <c>{ok:false, code}</c> (see <see cref="AuthErrorCodes"/>). The new token must carry the same
    /// <c>sub</c> and pass the namespace's connect-time authorization again (else <c>forbidden</c>).
    /// </summary>
    public const string RefreshEvent = "auth:refresh";

    private readonly JwtAuthenticationOptions _options;
    private readonly ExpiryScheduler _scheduler;
    private readonly AuthMetrics _metrics;
    private readonly ConcurrentDictionary<string, ConcurrentDictionary<State, byte>> _bySession = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, ConcurrentDictionary<State, byte>> _byUser = new(StringComparer.Ordinal);

    internal AuthenticatedSockets(IOptions<JwtAuthenticationOptions> options, AuthMetrics metrics, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options.Value;
        _metrics = metrics;
        _scheduler = new ExpiryScheduler(time);
    }

    /// <summary>Authenticated sockets connected to this node.</summary>
    public int Count => _byUser.Values.Sum(set => set.Count);

    /// <summary>When the socket's current token expires, if it is authenticated.</summary>
    public static DateTimeOffset? ExpiresAt(SocketIOSocket socket)
    {
        ArgumentNullException.ThrowIfNull(socket);
        return socket.Features.Get<ISocketAuthenticationFeature>()?.ExpiresAt;
    }

    /// <summary>Sends <c>auth:revoked</c> to every socket of the login session and disconnects them. Returns how many.</summary>
    public int RevokeSession(string sessionId) => Counted(Revoke(_bySession, sessionId), "session");

    /// <summary>Sends <c>auth:revoked</c> to every socket of the user and disconnects them. Returns how many.</summary>
    public int RevokeUser(string subject) => Counted(Revoke(_byUser, subject), "user");

    private int Counted(int revoked, string scope)
    {
        if (revoked > 0)
        {
            _metrics.Revocations.Add(revoked, AuthMetrics.Tag("scope", scope));
        }
        return revoked;
    }

    private static int Revoke(ConcurrentDictionary<string, ConcurrentDictionary<State, byte>> index, string key)
    {
        if (!index.TryGetValue(key, out var set))
        {
            return 0;
        }
        var count = 0;
        foreach (var state in set.Keys)
        {
            state.Socket.Emit(RevokedEvent, AuthPayloads.Code(AuthErrorCodes.TokenRevoked));
            state.Socket.Disconnect();
            count++;
        }
        return count;
    }

    internal void Track(SocketIOSocket socket, AccessTokenValidationResult token)
    {
        var state = new State(socket, token.Subject ?? string.Empty, token.Principal?.FindFirst("sid")?.Value);
        socket.Features.Set<ISocketAuthenticationFeature>(state);
        Add(_byUser, state.Subject, state);
        if (state.SessionId is not null)
        {
            Add(_bySession, state.SessionId, state);
        }
        socket.OnDisconnect(_ =>
        {
            Untrack(state);
            return ValueTask.CompletedTask;
        });
        Schedule(state, token.ExpiresAt);
    }

    private void Untrack(State state)
    {
        Interlocked.Increment(ref state.Version);
        _scheduler.Forget(2);
        Remove(_byUser, state.Subject, state);
        if (state.SessionId is not null)
        {
            Remove(_bySession, state.SessionId, state);
        }
    }

    /// <summary>Handles <c>auth:refresh</c>: same user, new expiry; the socket keeps its id and rooms.</summary>
    internal System.Text.Json.JsonElement Refresh(SocketIOSocket socket, AccessTokenValidationResult token)
    {
        if (socket.Features.Get<ISocketAuthenticationFeature>() is not State state || !socket.Connected)
        {
            return AuthPayloads.RefreshRefused(AuthErrorCodes.TokenInvalid);
        }
        if (!token.IsValid)
        {
            return AuthPayloads.RefreshRefused(token.ErrorCode!);
        }
        if (!string.Equals(token.Subject, state.Subject, StringComparison.Ordinal))
        {
            return AuthPayloads.RefreshRefused(AuthErrorCodes.SubMismatch);
        }
        socket.User = token.Principal!;
        var sessionId = token.Principal!.FindFirst("sid")?.Value;
        if (!string.Equals(sessionId, state.SessionId, StringComparison.Ordinal))
        {
            if (state.SessionId is not null)
            {
                Remove(_bySession, state.SessionId, state);
            }
            state.SessionId = sessionId;
            if (sessionId is not null)
            {
                Add(_bySession, sessionId, state);
            }
        }
        Schedule(state, token.ExpiresAt);
        return AuthPayloads.RefreshAccepted(token.ExpiresAt.ToUnixTimeMilliseconds());
    }

    private void Schedule(State state, DateTimeOffset expiresAt)
    {
        var version = Interlocked.Increment(ref state.Version);
        if (version > 1)
        {
            // A refresh: the previous warning and expiry entries are stale now.
            _scheduler.Forget(2);
        }
        var exp = expiresAt.ToUnixTimeMilliseconds();
        Volatile.Write(ref state.ExpiresAtMs, exp);
        var now = _scheduler.NowMs;
        _scheduler.Schedule(Math.Max(now, exp - (long)_options.ExpiryWarning.TotalMilliseconds), state, version, State.Warning);
        _scheduler.Schedule(exp + (long)_options.ClockSkew.TotalMilliseconds, state, version, State.Expiry);
    }

    private static void Warn(State state, long version)
    {
        if (Volatile.Read(ref state.Version) == version && state.Socket.Connected)
        {
            state.Socket.Emit(ExpiringEvent, AuthPayloads.Expiring(Volatile.Read(ref state.ExpiresAtMs)));
        }
    }

    private static void Expire(State state, long version)
    {
        if (Volatile.Read(ref state.Version) == version && state.Socket.Connected)
        {
            state.Socket.Emit(ExpiredEvent, AuthPayloads.Code(AuthErrorCodes.TokenExpired));
            state.Socket.Disconnect();
        }
    }

    private static void Add(ConcurrentDictionary<string, ConcurrentDictionary<State, byte>> index, string key, State state) =>
        index.GetOrAdd(key, static _ => new ConcurrentDictionary<State, byte>())[state] = 0;

    private static void Remove(ConcurrentDictionary<string, ConcurrentDictionary<State, byte>> index, string key, State state)
    {
        if (index.TryGetValue(key, out var set) && set.TryRemove(state, out _) && set.IsEmpty)
        {
            index.TryRemove(new KeyValuePair<string, ConcurrentDictionary<State, byte>>(key, set));
        }
    }

    /// <summary>Stops the expiry timer: no <c>auth:expiring</c> or <c>auth:expired</c> is sent afterwards.</summary>
    public void Dispose() => _scheduler.Dispose();

    private sealed class State(SocketIOSocket socket, string subject, string? sessionId) : IDeadlineTarget, ISocketAuthenticationFeature
    {
        public const byte Warning = 0;
        public const byte Expiry = 1;

        public readonly SocketIOSocket Socket = socket;
        public readonly string Subject = subject;
        public string? SessionId = sessionId;
        public long Version;
        public long ExpiresAtMs;

        long IDeadlineTarget.Version => Volatile.Read(ref Version);

        System.Security.Claims.ClaimsPrincipal ISocketAuthenticationFeature.User => Socket.User;

        string ISocketAuthenticationFeature.Subject => Subject;

        string? ISocketAuthenticationFeature.SessionId => Volatile.Read(ref SessionId);

        DateTimeOffset ISocketAuthenticationFeature.ExpiresAt => DateTimeOffset.FromUnixTimeMilliseconds(Volatile.Read(ref ExpiresAtMs));

        public void OnDue(long version, byte kind)
        {
            if (kind == Warning)
            {
                Warn(this, version);
            }
            else
            {
                Expire(this, version);
            }
        }
    }
}
