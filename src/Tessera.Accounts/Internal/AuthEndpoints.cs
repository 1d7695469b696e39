using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Identity;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

using Tessera.Auth;

namespace Tessera.Accounts.Internal;

/// <summary>The handlers of <see cref="AccountEndpointRouteBuilderExtensions.MapTesseraAuth"/>.</summary>
internal sealed partial class AuthEndpoints(string cookiePath)
{
    public const string RefreshCookie = "refresh_token";
    private const int MaxBody = 64 * 1024;

    /// <summary>Where the refresh cookie is sent: the endpoints' own prefix, so no other path ever sees it.</summary>
    public string CookiePath { get; } = cookiePath;

    /// <summary>
    /// CONTRACT §4: a failing store (SQLite's disk full, read-only file system, busy past its wait; a database that
    /// cannot be reached) answers 503 with Retry-After and a JSON message; the failure is logged without request data.
    /// </summary>
    public static async ValueTask<object?> StoreUnavailableAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        try
        {
            return await next(context).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is System.Data.Common.DbException or IOException or TimeoutException && !context.HttpContext.Response.HasStarted)
        {
            var logger = context.HttpContext.RequestServices.GetRequiredService<ILogger<AuthEndpoints>>();
            AuthEndpointsLog.StoreUnavailable(logger, ex.GetType().Name, ex.Message);
            context.HttpContext.Response.Headers.RetryAfter = "5";
            return Error(StatusCodes.Status503ServiceUnavailable, "The account store is unavailable; retry later.");
        }
    }

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9_.-]{2,31}$")]
    private static partial Regex UsernamePattern();

    private static IResult Error(int status, string message, string? code = null) =>
        Results.Json(code is null ? new { message } : (object)new { message, code }, statusCode: status);

    private sealed record Body(JsonElement? Json, IResult? Error);

    /// <summary>Reads a JSON object body within the limits; null Json for an empty body when allowed.</summary>
    private static async Task<Body> ReadBodyAsync(HttpRequest request, bool allowEmpty)
    {
        if (request.ContentLength > MaxBody)
        {
            return new Body(null, Error(StatusCodes.Status413PayloadTooLarge, "Request body too large (64 KB at most)."));
        }
        var buffer = new MemoryStream();
        var chunk = new byte[8192];
        int read;
        while ((read = await request.Body.ReadAsync(chunk, request.HttpContext.RequestAborted).ConfigureAwait(false)) > 0)
        {
            if (buffer.Length + read > MaxBody)
            {
                return new Body(null, Error(StatusCodes.Status413PayloadTooLarge, "Request body too large (64 KB at most)."));
            }
            buffer.Write(chunk, 0, read);
        }
        // JSON even for an empty body: a cross-site page can send an empty POST or a form without a CORS preflight, but
        // not one labelled application/json.
        if (!request.HasJsonContentType())
        {
            return new Body(null, Error(StatusCodes.Status415UnsupportedMediaType, "The content type must be application/json."));
        }
        if (buffer.Length == 0)
        {
            return allowEmpty ? new Body(null, null) : new Body(null, Error(StatusCodes.Status400BadRequest, "A JSON body is required."));
        }
        try
        {
            using var document = JsonDocument.Parse(buffer.ToArray(), new JsonDocumentOptions { MaxDepth = 16 });
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                return new Body(null, Error(StatusCodes.Status400BadRequest, "The body must be a JSON object."));
            }
            return new Body(document.RootElement.Clone(), null);
        }
        catch (JsonException)
        {
            return new Body(null, Error(StatusCodes.Status400BadRequest, "The body is not valid JSON."));
        }
    }

    private static string? StringField(JsonElement body, string name) =>
        body.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    /// <summary>
    /// The start of register and login: the per-address limit, then a JSON body with string fields username and
    /// password. On failure the response to send instead.
    /// </summary>
    private static async Task<(string Username, string Password, IResult? Refused)> ReadCredentialsAsync(HttpContext context, AuthRateLimits limits)
    {
        if (await LimitAddressAsync(context, limits).ConfigureAwait(false) is { } limited)
        {
            return ("", "", limited);
        }
        var body = await ReadBodyAsync(context.Request, allowEmpty: false).ConfigureAwait(false);
        if (body.Error is not null)
        {
            return ("", "", body.Error);
        }
        var username = StringField(body.Json!.Value, "username");
        var password = StringField(body.Json!.Value, "password");
        if (username is null || password is null)
        {
            return ("", "", Error(StatusCodes.Status400BadRequest, "username and password are required strings."));
        }
        return (username, password, null);
    }

    private static async ValueTask<IResult?> LimitAddressAsync(HttpContext context, AuthRateLimits limits) =>
        await limits.TryAddressAsync(AddressKey(context.Connection.RemoteIpAddress), context.RequestAborted).ConfigureAwait(false) is { } retryAfter
            ? TooMany(context, retryAfter)
            : null;

    /// <summary>
    /// What the limits count a client by: its IPv4 address (an IPv4-mapped IPv6 one as IPv4), or the /64 of an IPv6 one
    /// (one subscriber's allocation: counting single IPv6 addresses would give every client 2^64 fresh ones).
    /// </summary>
    internal static string AddressKey(IPAddress? address)
    {
        if (address is null)
        {
            return "unknown";
        }
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }
        if (address.AddressFamily != AddressFamily.InterNetworkV6)
        {
            return address.ToString();
        }
        Span<byte> bytes = stackalloc byte[16];
        address.TryWriteBytes(bytes, out _);
        bytes[8..].Clear();
        return new IPAddress(bytes) + "/64";
    }

    private static IResult TooMany(HttpContext context, TimeSpan retryAfter)
    {
        context.Response.Headers.RetryAfter = Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
        return Error(StatusCodes.Status429TooManyRequests, "Too many requests; retry later.");
    }

    /// <summary>
    /// Whether a request comes from another site's page (shared/CONTRACT.md §4): <c>Sec-Fetch-Site: cross-site</c>, or an
    /// <c>Origin</c> that is not this server's own (scheme, host and port of the request, as forwarded headers leave them;
    /// <c>null</c>, several or an unreadable one count as foreign). No <c>Origin</c> at all is not a browser's cross-site request.
    /// </summary>
    internal static bool IsCrossSite(HttpRequest request)
    {
        if (string.Equals(request.Headers["Sec-Fetch-Site"].ToString(), "cross-site", StringComparison.OrdinalIgnoreCase))
        {
            return true;
        }
        var origins = request.Headers.Origin;
        if (origins.Count == 0)
        {
            return false;
        }
        if (origins.Count > 1
            || !Uri.TryCreate(origins[0], UriKind.Absolute, out var origin)
            || !Uri.TryCreate(request.Scheme + "://" + request.Host.Value, UriKind.Absolute, out var own))
        {
            return true;
        }
        return !(string.Equals(origin.Scheme, own.Scheme, StringComparison.OrdinalIgnoreCase)
            && string.Equals(origin.IdnHost, own.IdnHost, StringComparison.OrdinalIgnoreCase)
            && origin.Port == own.Port);
    }

    public async Task<IResult> RegisterAsync(
        HttpContext context, IOptions<AccountOptions> accountOptions, AuthRateLimits limits, IPasswordHasher<UserAccount> hasher, IAccountStore store)
    {
        var options = accountOptions.Value;
        if (!options.AllowRegistration)
        {
            return Error(StatusCodes.Status404NotFound, "Registration is disabled.");
        }
        var (username, password, refused) = await ReadCredentialsAsync(context, limits).ConfigureAwait(false);
        if (refused is not null)
        {
            return refused;
        }
        if (!UsernamePattern().IsMatch(username))
        {
            return Error(StatusCodes.Status400BadRequest, "The username must be 3 to 32 letters, digits, '.', '_' or '-', starting with a letter or digit.");
        }
        if (password.Length < options.MinimumPasswordLength || password.Length > 1024)
        {
            return Error(StatusCodes.Status400BadRequest, $"The password must be {options.MinimumPasswordLength} to 1024 characters.");
        }
        var user = await store.CreateUserAsync(username, hasher.HashPassword(null!, password), context.RequestAborted).ConfigureAwait(false);
        if (user is null)
        {
            return Error(StatusCodes.Status409Conflict, "This username is taken.");
        }
        return Results.Json(new { id = user.Id, username = user.Username }, statusCode: StatusCodes.Status201Created);
    }

    public async Task<IResult> LoginAsync(
        HttpContext context, AuthRateLimits limits, IAccountStore store, IPasswordHasher<UserAccount> hasher, TokenService tokens, AccountsMetrics metrics)
    {
        var (username, password, refused) = await ReadCredentialsAsync(context, limits).ConfigureAwait(false);
        if (refused is not null)
        {
            return refused;
        }
        var usernameKey = LoginFailures.UserKey(username);
        // The failure is counted before the hash is verified (and given back if the password is right): parallel guesses
        // cannot all pass a check made before any of them failed.
        var (reserved, reservation, retryAfter) = await limits.FailedLogins.TryReserveAsync(usernameKey, AddressKey(context.Connection.RemoteIpAddress), context.RequestAborted).ConfigureAwait(false);
        if (!reserved)
        {
            metrics.Logins.Add(1, AccountsMetrics.Tag("result", "limited"));
            return TooMany(context, retryAfter);
        }
        UserAccount? user;
        PasswordVerificationResult verdict;
        try
        {
            user = username.Length <= 64 ? await store.FindUserByNameAsync(username, context.RequestAborted).ConfigureAwait(false) : null;
            // An unknown user costs the same hash verification as a wrong password: no timing oracle for usernames.
            verdict = hasher.VerifyHashedPassword(user!, user?.PasswordHash ?? limits.DummyHash, password);
        }
        catch
        {
            // Nothing was verified (the store failed, the client left): no failure to count.
            await limits.FailedLogins.ReleaseAsync(reservation).ConfigureAwait(false);
            throw;
        }
        if (user is null || user.Disabled || verdict == PasswordVerificationResult.Failed)
        {
            var slowdown = await limits.FailedLogins.FailedAsync(usernameKey, CancellationToken.None).ConfigureAwait(false);
            metrics.Logins.Add(1, AccountsMetrics.Tag("result", "failed"));
            if (slowdown > TimeSpan.Zero)
            {
                // The username is under attack from many addresses: answer late, holding no thread (a timer), never refuse.
                try
                {
                    await Task.Delay(slowdown, context.RequestAborted).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                }
            }
            return Error(StatusCodes.Status401Unauthorized, "Invalid credentials");
        }
        await limits.FailedLogins.ReleaseAsync(reservation).ConfigureAwait(false);
        if (verdict == PasswordVerificationResult.SuccessRehashNeeded)
        {
            // A hash of fewer iterations than the hasher's (or an older format): upgraded now that the password is known.
            await store.UpdatePasswordHashAsync(user.Id, hasher.HashPassword(user, password), context.RequestAborted).ConfigureAwait(false);
        }
        metrics.Logins.Add(1, AccountsMetrics.Tag("result", "ok"));
        var sessionId = TokenService.NewSessionId();
        var refreshToken = TokenService.NewRefreshToken();
        await store.CreateSessionAsync(sessionId, user.Id, TokenService.Hash(refreshToken), tokens.Now + tokens.Options.RefreshTokenLifetime, context.RequestAborted).ConfigureAwait(false);
        return Issue(context, tokens, user, sessionId, refreshToken);
    }

    private IResult Issue(HttpContext context, TokenService tokens, UserAccount user, string sessionId, string refreshToken)
    {
        var (token, _, expiresIn) = tokens.IssueAccessToken(user.Id, user.Username, sessionId);
        context.Response.Cookies.Append(RefreshCookie, refreshToken, new CookieOptions
        {
            HttpOnly = true,
            SameSite = SameSiteMode.Strict,
            Path = CookiePath,
            Secure = context.Request.IsHttps,
            MaxAge = tokens.Options.RefreshTokenLifetime,
        });
        context.Response.Headers.CacheControl = "no-store";
        return Results.Json(new
        {
            token,
            tokenType = "Bearer",
            expiresIn,
            refreshToken,
        });
    }

    public async Task<IResult> RefreshAsync(
        HttpContext context, AuthRateLimits limits, IAccountStore store, TokenService tokens, RevocationBus bus, AccountsMetrics metrics, ILogger<AuthEndpoints> logger)
    {
        if (await LimitAddressAsync(context, limits).ConfigureAwait(false) is { } limited)
        {
            return limited;
        }
        var body = await ReadBodyAsync(context.Request, allowEmpty: true).ConfigureAwait(false);
        if (body.Error is not null)
        {
            return body.Error;
        }
        string? refreshToken = null;
        if (body.Json is { } json && json.TryGetProperty("refreshToken", out var field))
        {
            if (field.ValueKind != JsonValueKind.String)
            {
                return Error(StatusCodes.Status400BadRequest, "refreshToken must be a string.");
            }
            refreshToken = field.GetString();
        }
        var fromCookie = false;
        if (string.IsNullOrEmpty(refreshToken))
        {
            refreshToken = context.Request.Cookies[RefreshCookie];
            fromCookie = true;
        }
        if (string.IsNullOrEmpty(refreshToken))
        {
            return Error(StatusCodes.Status400BadRequest, "A refreshToken (body or cookie) is required.");
        }
        if (fromCookie && IsCrossSite(context.Request))
        {
            // The cookie alone is the browser's credential, sent whoever asks: only this server's own pages may spend it.
            return Error(StatusCodes.Status403Forbidden, "A refresh with the cookie alone must come from this server's own pages.", "origin");
        }
        var next = TokenService.NewRefreshToken();
        var now = tokens.Now;
        var result = refreshToken.Length > 512
            ? new RefreshResult(RefreshOutcome.Invalid)
            : await store.RotateRefreshTokenAsync(
                TokenService.Hash(refreshToken), TokenService.Hash(next), now + tokens.Options.RefreshTokenLifetime, now, tokens.Options.RefreshReuseGrace, context.RequestAborted).ConfigureAwait(false);
        metrics.Refreshes.Add(1, AccountsMetrics.Tag("via", "http"), AccountsMetrics.Tag("result", result.Outcome.ToString().ToLowerInvariant()));
        switch (result.Outcome)
        {
            case RefreshOutcome.Rotated:
            case RefreshOutcome.ReusedWithinGrace:
                // Within the grace the caller gets a refresh token of its own (never the one the first rotation handed out,
                // which only its holder has: the store keeps hashes), in the same session.
                var user = await store.FindUserByIdAsync(result.UserId!, context.RequestAborted).ConfigureAwait(false);
                return Issue(context, tokens, user!, result.SessionId!, next);
            case RefreshOutcome.Reused:
                // Someone replayed a rotated token: the session was revoked in the store; throw its sockets out too.
                AuthEndpointsLog.RefreshReused(logger, result.UserId ?? "?");
                await bus.RevokeSessionAsync(result.SessionId!).ConfigureAwait(false);
                return Error(StatusCodes.Status401Unauthorized, "This refresh token was already used; the session is revoked.", "refresh_reused");
            case RefreshOutcome.Expired:
                return Error(StatusCodes.Status401Unauthorized, "The refresh token has expired.", "refresh_expired");
            default:
                return Error(StatusCodes.Status401Unauthorized, "The refresh token is invalid.", "refresh_invalid");
        }
    }

    public Task<IResult> LogoutSessionAsync(HttpContext context, AccessTokenValidator validator, IAccountStore store, RevocationBus bus) =>
        LogoutAsync(context, validator, store, bus, everywhere: false);

    public Task<IResult> LogoutEverywhereAsync(HttpContext context, AccessTokenValidator validator, IAccountStore store, RevocationBus bus) =>
        LogoutAsync(context, validator, store, bus, everywhere: true);

    private async Task<IResult> LogoutAsync(HttpContext context, AccessTokenValidator validator, IAccountStore store, RevocationBus bus, bool everywhere)
    {
        var header = context.Request.Headers.Authorization.ToString();
        if (!header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            return Error(StatusCodes.Status401Unauthorized, "A Bearer access token is required.");
        }
        var validation = await validator.ValidateAsync(header[7..].Trim(), context.RequestAborted).ConfigureAwait(false);
        if (!validation.IsValid)
        {
            return Error(StatusCodes.Status401Unauthorized, AuthErrorCodes.Message(validation.ErrorCode!), validation.ErrorCode);
        }
        var sessionId = validation.Principal!.FindFirst("sid")?.Value;
        var userId = validation.Subject!;
        if (everywhere)
        {
            await store.RevokeUserSessionsAsync(userId, context.RequestAborted).ConfigureAwait(false);
            await bus.RevokeUserAsync(userId).ConfigureAwait(false);
        }
        else if (sessionId is not null)
        {
            await store.RevokeSessionAsync(sessionId, context.RequestAborted).ConfigureAwait(false);
            await bus.RevokeSessionAsync(sessionId).ConfigureAwait(false);
        }
        context.Response.Cookies.Delete(RefreshCookie, new CookieOptions { Path = CookiePath, HttpOnly = true, SameSite = SameSiteMode.Strict, Secure = context.Request.IsHttps });
        return Results.NoContent();
    }
}

internal static partial class AuthEndpointsLog
{
    [LoggerMessage(312, LogLevel.Warning, "The account store failed ({Error}: {Reason}); answering 503.")]
    public static partial void StoreUnavailable(ILogger logger, string error, string reason);

    [LoggerMessage(311, LogLevel.Warning, "A rotated refresh token was presented again for user {UserId}: the session is revoked (possible theft).")]
    public static partial void RefreshReused(ILogger logger, string userId);
}

/// <summary>The limits of the account endpoints, over <see cref="IAccountRateCounter"/> (this node's, or the cluster's).</summary>
internal sealed class AuthRateLimits
{
    private static readonly TimeSpan Window = TimeSpan.FromMinutes(1);
    private readonly IAccountRateCounter _counter;
    private readonly int _perAddress;

    public AuthRateLimits(IOptions<AccountOptions> options, IPasswordHasher<UserAccount> hasher, IAccountRateCounter counter)
    {
        var o = options.Value;
        _counter = counter;
        _perAddress = Math.Max(1, o.LoginsPerMinutePerAddress);
        FailedLogins = new LoginFailures(Math.Max(1, o.FailedLoginsPerMinute), counter);
        DummyHash = hasher.HashPassword(null!, "not-a-real-password-" + Guid.NewGuid());
    }

    /// <summary>
    /// <see cref="AccountOptions.LoginsPerMinutePerAddress"/>: null if this request may go on, else when to retry. A refused
    /// request is not counted, so a client that waits gets its whole budget back when the window ends.
    /// </summary>
    public async ValueTask<TimeSpan?> TryAddressAsync(string addressKey, CancellationToken cancellationToken)
    {
        var key = "addr:" + addressKey;
        var count = await _counter.IncrementAsync(key, Window, cancellationToken).ConfigureAwait(false);
        if (count.Count <= _perAddress)
        {
            return null;
        }
        await _counter.DecrementAsync(key, cancellationToken).ConfigureAwait(false);
        return count.Remaining;
    }

    /// <summary><see cref="AccountOptions.FailedLoginsPerMinute"/>: per username and address, and the slowdown per username.</summary>
    public LoginFailures FailedLogins { get; }

    /// <summary>Verified for unknown usernames so they take as long as wrong passwords.</summary>
    public string DummyHash { get; }
}

/// <summary>
/// Failed logins (shared/CONTRACT.md §2 <c>Auth:FailedLoginsPerMinute</c>) in one-minute windows: a hard limit per
/// username and client address, counted before the password is verified (<see cref="TryReserveAsync"/>, given back by
/// <see cref="ReleaseAsync"/> when it was right), and a soft one per username across all addresses: beyond ten times the limit,
/// each further failure is answered late (<see cref="SlowdownFor"/>). No address's failures ever refuse another address.
/// </summary>
internal sealed class LoginFailures(int limit, IAccountRateCounter counter)
{
    private static readonly TimeSpan Window = TimeSpan.FromMinutes(1);

    /// <summary>The added delay per failure over ten times the limit.</summary>
    public static readonly TimeSpan SlowdownStep = TimeSpan.FromMilliseconds(250);

    /// <summary>The most a failure is delayed.</summary>
    public static readonly TimeSpan MaxSlowdown = TimeSpan.FromSeconds(5);

    /// <summary>A failure counted ahead of the verification (the counter's key).</summary>
    public readonly record struct Reservation(string Key);

    /// <summary>The key of a username: case-insensitive as the store's; names too long to exist share one.</summary>
    public static string UserKey(string username) => username.Length <= 64 ? username.ToUpperInvariant() : "\0long";

    /// <summary>How late to answer the <paramref name="failures"/>th failure for a username within the window.</summary>
    public static TimeSpan SlowdownFor(long failures, int limit)
    {
        var excess = failures - 10L * limit;
        return excess <= 0 ? TimeSpan.Zero : TimeSpan.FromMilliseconds(Math.Min(MaxSlowdown.TotalMilliseconds, excess * SlowdownStep.TotalMilliseconds));
    }

    /// <summary>Counts a failure for (username, address) before verifying; refused, with when to retry, at the limit.</summary>
    public async ValueTask<(bool Reserved, Reservation Reservation, TimeSpan RetryAfter)> TryReserveAsync(string userKey, string addressKey, CancellationToken cancellationToken)
    {
        var key = "fail:" + userKey + "\n" + addressKey;
        var count = await counter.IncrementAsync(key, Window, cancellationToken).ConfigureAwait(false);
        if (count.Count > limit)
        {
            // Not a failure that happened: only the limit's answer.
            await counter.DecrementAsync(key, cancellationToken).ConfigureAwait(false);
            return (false, default, count.Remaining);
        }
        return (true, new Reservation(key), TimeSpan.Zero);
    }

    /// <summary>The password was right (or nothing was verified): the reserved failure did not happen.</summary>
    public ValueTask ReleaseAsync(Reservation reservation) =>
        reservation.Key is null ? ValueTask.CompletedTask : counter.DecrementAsync(reservation.Key, CancellationToken.None);

    /// <summary>Records a failure for the username from any address; returns how late to answer it.</summary>
    public async ValueTask<TimeSpan> FailedAsync(string userKey, CancellationToken cancellationToken)
    {
        var count = await counter.IncrementAsync("user:" + userKey, Window, cancellationToken).ConfigureAwait(false);
        return SlowdownFor(count.Count, limit);
    }
}

/// <summary>
/// This node's counters (the default <see cref="IAccountRateCounter"/>, and the fallback of a shared one that fails): a window
/// per key from its first increment; keys whose window has passed are forgotten at most once a minute.
/// </summary>
internal sealed class LocalRateCounter(TimeProvider? time = null) : IAccountRateCounter
{
    private readonly TimeProvider _time = time ?? TimeProvider.System;
    private readonly ConcurrentDictionary<string, Counter> _counters = new(StringComparer.Ordinal);
    private long _nextSweep = long.MinValue;

    private sealed class Counter
    {
        public long WindowEnd;
        public long Count;
        public bool Removed;
    }

    private long NowMs() => (long)(_time.GetTimestamp() * 1000.0 / _time.TimestampFrequency);

    public ValueTask<RateCount> IncrementAsync(string key, TimeSpan window, CancellationToken cancellationToken = default)
    {
        var now = NowMs();
        Sweep(now);
        while (true)
        {
            var counter = _counters.GetOrAdd(key, static _ => new Counter());
            lock (counter)
            {
                if (counter.Removed)
                {
                    continue;
                }
                if (now >= counter.WindowEnd)
                {
                    counter.WindowEnd = now + (long)window.TotalMilliseconds;
                    counter.Count = 0;
                }
                counter.Count++;
                return ValueTask.FromResult(new RateCount(counter.Count, TimeSpan.FromMilliseconds(counter.WindowEnd - now)));
            }
        }
    }

    public ValueTask DecrementAsync(string key, CancellationToken cancellationToken = default)
    {
        if (_counters.TryGetValue(key, out var counter))
        {
            lock (counter)
            {
                if (!counter.Removed && NowMs() < counter.WindowEnd && counter.Count > 0)
                {
                    counter.Count--;
                }
            }
        }
        return ValueTask.CompletedTask;
    }

    private void Sweep(long now)
    {
        var due = Interlocked.Read(ref _nextSweep);
        if (due == long.MinValue)
        {
            Interlocked.CompareExchange(ref _nextSweep, now + 60_000, due);
            return;
        }
        if (now < due || Interlocked.CompareExchange(ref _nextSweep, now + 60_000, due) != due)
        {
            return;
        }
        foreach (var (key, counter) in _counters)
        {
            lock (counter)
            {
                if (now >= counter.WindowEnd)
                {
                    counter.Removed = true;
                    _counters.TryRemove(new KeyValuePair<string, Counter>(key, counter));
                }
            }
        }
    }
}
