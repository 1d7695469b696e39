using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using System.Threading.RateLimiting;
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
        if (buffer.Length == 0)
        {
            return allowEmpty ? new Body(null, null) : new Body(null, Error(StatusCodes.Status400BadRequest, "A JSON body is required."));
        }
        if (!request.HasJsonContentType())
        {
            return new Body(null, Error(StatusCodes.Status415UnsupportedMediaType, "The content type must be application/json."));
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
        if (LimitAddress(context, limits) is { } limited)
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

    private static IResult? LimitAddress(HttpContext context, AuthRateLimits limits)
    {
        var address = context.Connection.RemoteIpAddress?.ToString() ?? "unknown";
        using var lease = limits.PerAddress.AttemptAcquire(address);
        return lease.IsAcquired ? null : TooMany(context, lease);
    }

    private static IResult TooMany(HttpContext context, RateLimitLease lease)
    {
        var retryAfter = lease.TryGetMetadata(MetadataName.RetryAfter, out var after) ? after : TimeSpan.FromMinutes(1);
        context.Response.Headers.RetryAfter = Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
        return Error(StatusCodes.Status429TooManyRequests, "Too many requests; retry later.");
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
        var usernameKey = username.ToUpperInvariant();
        using (var probe = limits.FailedLogins.AttemptAcquire(usernameKey, 0))
        {
            if (!probe.IsAcquired)
            {
                return TooMany(context, probe);
            }
        }
        var user = username.Length <= 64 ? await store.FindUserByNameAsync(username, context.RequestAborted).ConfigureAwait(false) : null;
        // An unknown user costs the same hash verification as a wrong password: no timing oracle for usernames.
        var verdict = hasher.VerifyHashedPassword(user!, user?.PasswordHash ?? limits.DummyHash, password);
        if (user is null || user.Disabled || verdict == PasswordVerificationResult.Failed)
        {
            limits.FailedLogins.AttemptAcquire(usernameKey).Dispose();
            metrics.Logins.Add(1, AccountsMetrics.Tag("result", "failed"));
            return Error(StatusCodes.Status401Unauthorized, "Invalid credentials");
        }
        if (verdict == PasswordVerificationResult.SuccessRehashNeeded)
        {
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
        if (LimitAddress(context, limits) is { } limited)
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
        if (string.IsNullOrEmpty(refreshToken))
        {
            refreshToken = context.Request.Cookies[RefreshCookie];
        }
        if (string.IsNullOrEmpty(refreshToken))
        {
            return Error(StatusCodes.Status400BadRequest, "A refreshToken (body or cookie) is required.");
        }
        var next = TokenService.NewRefreshToken();
        var result = refreshToken.Length > 512
            ? new RefreshResult(RefreshOutcome.Invalid)
            : await store.RotateRefreshTokenAsync(TokenService.Hash(refreshToken), TokenService.Hash(next), tokens.Now + tokens.Options.RefreshTokenLifetime, tokens.Now, context.RequestAborted).ConfigureAwait(false);
        metrics.Refreshes.Add(1, AccountsMetrics.Tag("via", "http"), AccountsMetrics.Tag("result", result.Outcome.ToString().ToLowerInvariant()));
        switch (result.Outcome)
        {
            case RefreshOutcome.Rotated:
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
    [LoggerMessage(311, LogLevel.Warning, "A rotated refresh token was presented again for user {UserId}: the session is revoked (possible theft).")]
    public static partial void RefreshReused(ILogger logger, string userId);
}

/// <summary>The limiters of the account endpoints (System.Threading.RateLimiting, as ASP.NET Core's middleware uses).</summary>
internal sealed class AuthRateLimits : IDisposable
{
    public AuthRateLimits(IOptions<AccountOptions> options, IPasswordHasher<UserAccount> hasher)
    {
        var o = options.Value;
        PerAddress = PartitionedRateLimiter.Create<string, string>(address => RateLimitPartition.GetFixedWindowLimiter(address, _ => new FixedWindowRateLimiterOptions
        {
            PermitLimit = Math.Max(1, o.LoginsPerMinutePerAddress),
            Window = TimeSpan.FromMinutes(1),
            QueueLimit = 0,
        }), StringComparer.Ordinal);
        FailedLogins = PartitionedRateLimiter.Create<string, string>(username => RateLimitPartition.GetFixedWindowLimiter(username, _ => new FixedWindowRateLimiterOptions
        {
            PermitLimit = Math.Max(1, o.FailedLoginsPerMinute),
            Window = TimeSpan.FromMinutes(1),
            QueueLimit = 0,
        }), StringComparer.Ordinal);
        DummyHash = hasher.HashPassword(null!, "not-a-real-password-" + Guid.NewGuid());
    }

    public PartitionedRateLimiter<string> PerAddress { get; }

    public PartitionedRateLimiter<string> FailedLogins { get; }

    /// <summary>Verified for unknown usernames so they take as long as wrong passwords.</summary>
    public string DummyHash { get; }

    public void Dispose()
    {
        PerAddress.Dispose();
        FailedLogins.Dispose();
    }
}
