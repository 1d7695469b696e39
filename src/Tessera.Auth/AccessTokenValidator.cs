using System.Collections.Concurrent;
using System.Security.Claims;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Protocols;
using Microsoft.IdentityModel.Protocols.OpenIdConnect;
using Microsoft.IdentityModel.Tokens;

namespace Tessera.Auth;

/// <summary>Machine-readable refusal codes, as clients receive them in <c>data.code</c>.</summary>
public static class AuthErrorCodes
{
    /// <summary>
    /// <c>token_missing</c>: the handshake carried no token (none of <c>auth.token</c>, the <c>Authorization</c> header, the
    /// <see cref="JwtAuthenticationOptions.CookieName"/> cookie, or the <c>token</c> query parameter when allowed).
    /// Message: <c>Authentication error: Token missing</c>.
    /// </summary>
    public const string TokenMissing = "token_missing";
    /// <summary>
    /// <c>token_invalid</c>: the token cannot be trusted (malformed, bad signature, wrong issuer, audience or <c>typ</c>, a
    /// <c>crit</c> header, or longer than <see cref="JwtAuthenticationOptions.MaxTokenLength"/>). Message: <c>Authentication error: Invalid token</c>.
    /// </summary>
    public const string TokenInvalid = "token_invalid";
    /// <summary>
    /// <c>token_expired</c>: the token's <c>exp</c> (plus <see cref="JwtAuthenticationOptions.ClockSkew"/>) has passed; the only
    /// retryable code: a refreshed token can succeed. Message: <c>Authentication error: Token expired</c>; also the payload of <c>auth:expired</c>.
    /// </summary>
    public const string TokenExpired = "token_expired";
    /// <summary>
    /// <c>token_revoked</c>: the token's login session was revoked (logout, logout everywhere, refresh-token reuse, disabled
    /// user). Message: <c>Authentication error: Token revoked</c>; also the payload of <c>auth:revoked</c>.
    /// </summary>
    public const string TokenRevoked = "token_revoked";
    /// <summary>
    /// <c>sub_mismatch</c>: an <c>auth:refresh</c> was refused because the new token's <c>sub</c> is not the socket's user;
    /// the socket keeps its old identity until its old <c>exp</c>.
    /// </summary>
    public const string SubMismatch = "sub_mismatch";
    /// <summary>
    /// <c>forbidden</c>: the namespace's authorization rules refused the user: a CONNECT_ERROR with message <c>Forbidden</c>;
    /// for an event, an acknowledgement <c>{error:{code:"forbidden"}}</c> and the event is dropped; for an <c>auth:refresh</c>
    /// whose new token no longer passes the namespace's connect rules, <c>{ok:false, code:"forbidden"}</c>, and the socket keeps
    /// its old identity until its old <c>exp</c>.
    /// </summary>
    public const string Forbidden = "forbidden";

    /// <summary>The refusal message of each code (shared/CONTRACT.md §3).</summary>
    public static string Message(string code) => code switch
    {
        TokenMissing => "Authentication error: Token missing",
        TokenExpired => "Authentication error: Token expired",
        TokenRevoked => "Authentication error: Token revoked",
        Forbidden => "Forbidden",
        _ => "Authentication error: Invalid token",
    };

    /// <summary>Whether the client can succeed by retrying with another token (an expired one can be refreshed).</summary>
    public static bool IsRetryable(string code) => code is TokenExpired;
}

/// <summary>Decides whether a valid token's session has been revoked (logout, theft detection …).</summary>
public interface IAccessTokenRevocation
{
    /// <summary>
    /// Whether the login session of <paramref name="user"/> (a principal from a token that verified) has been revoked.
    /// <see cref="AccessTokenValidator.ValidateAsync"/> asks at every validation, remembered tokens included, so keep it fast.
    /// </summary>
    /// <returns>True to refuse the token with <see cref="AuthErrorCodes.TokenRevoked"/>.</returns>
    ValueTask<bool> IsRevokedAsync(ClaimsPrincipal user, CancellationToken cancellationToken = default);
}

/// <summary>The outcome of <see cref="AccessTokenValidator.ValidateAsync"/>: the user and the token's expiry, or a refusal code.</summary>
/// <param name="Principal">The token's claims under their JWT names (<c>sub</c>, <c>name</c>, <c>role</c> …); null when refused.</param>
/// <param name="ExpiresAt">
/// The token's <c>exp</c>; <see cref="DateTimeOffset.MaxValue"/> minus the clock skew for a token without one (accepted only when
/// <see cref="JwtAuthenticationOptions.RequireExpirationTime"/> is false); <c>default</c> when refused.
/// </param>
/// <param name="ErrorCode">Null when the token is valid, else one of <see cref="AuthErrorCodes"/>.</param>
public readonly record struct AccessTokenValidationResult(ClaimsPrincipal? Principal, DateTimeOffset ExpiresAt, string? ErrorCode)
{
    /// <summary>Whether the token was accepted (<see cref="ErrorCode"/> is null).</summary>
    public bool IsValid => ErrorCode is null;

    /// <summary>
    /// The user id: the <c>sub</c> claim, else <see cref="ClaimTypes.NameIdentifier"/> (what JwtBearer maps <c>sub</c> to by
    /// default, and what cookie principals usually carry); null when refused or absent.
    /// </summary>
    public string? Subject => Principal?.FindFirst("sub")?.Value ?? Principal?.FindFirst(ClaimTypes.NameIdentifier)?.Value;

    internal static AccessTokenValidationResult Fail(string code) => new(null, default, code);
}

/// <summary>
/// Verifies access tokens with Microsoft.IdentityModel: algorithms pinned to each key's type, exp required,
/// typ checked, kid only choosing among configured keys. Tokens verified once are remembered until they expire.
/// </summary>
public sealed partial class AccessTokenValidator
{
    private static readonly string[] HmacAlgorithms = [SecurityAlgorithms.HmacSha256, SecurityAlgorithms.HmacSha384, SecurityAlgorithms.HmacSha512];
    private static readonly string[] RsaAlgorithms =
    [
        SecurityAlgorithms.RsaSha256, SecurityAlgorithms.RsaSha384, SecurityAlgorithms.RsaSha512,
        SecurityAlgorithms.RsaSsaPssSha256, SecurityAlgorithms.RsaSsaPssSha384, SecurityAlgorithms.RsaSsaPssSha512,
    ];
    private static readonly string[] EcdsaAlgorithms = [SecurityAlgorithms.EcdsaSha256, SecurityAlgorithms.EcdsaSha384, SecurityAlgorithms.EcdsaSha512];

    private readonly JwtAuthenticationOptions _options;
    private readonly ILogger _logger;
    private readonly IAccessTokenRevocation? _revocation;
    private readonly JsonWebTokenHandler _handler = new() { MapInboundClaims = false };
    private readonly TokenValidationParameters _parameters;
    private readonly string? _metadataAddress;
    private readonly HttpDocumentRetriever? _documents;
    private readonly SemaphoreSlim _metadataLock = new(1, 1);
    private readonly TimeProvider _time;
    private readonly long _origin;
    // Milliseconds since _origin (monotonic); long.MinValue: never.
    private long _metadataFetchedAt = long.MinValue;
    private long _lastKidRefetchAt = long.MinValue;
    // After a failed fetch, none until this time (exponential backoff); long.MinValue: no failure pending.
    private long _metadataRetryAt = long.MinValue;
    private int _metadataFailures;
    // With the key it was verified with when that key came from a rotating source: a hit is good only while the key is still there.
    private readonly ConcurrentDictionary<string, (AccessTokenValidationResult Result, SecurityKey? SourceKey)> _cache = new(StringComparer.Ordinal);
    private volatile IList<SecurityKey> _metadataKeys = [];
    private long _verifications;
    private volatile string? _metadataIssuer;

    /// <summary>Creates a validator; applications get the one registered by <c>AddJwtAuthentication</c> from dependency injection.</summary>
    /// <param name="options">Keys, authority, issuer, audience and limits; validated here.</param>
    /// <param name="logger">Where refusals (never the tokens) and metadata failures are logged; null logs nothing.</param>
    /// <param name="revocation">Asked whether a verified token's session is revoked; null: no token is ever revoked.</param>
    /// <param name="timeProvider">
    /// The clock that paces OpenID Connect metadata fetches (periodic refresh, unknown-<c>kid</c> refetches, backoff after
    /// a failure); null: <see cref="TimeProvider.System"/>.
    /// </param>
    /// <exception cref="ArgumentNullException"><paramref name="options"/> is null.</exception>
    /// <exception cref="InvalidOperationException">
    /// The options are invalid: no signing key, authority or authentication scheme, no issuer or audience without the
    /// matching <see cref="JwtAuthenticationOptions.AllowAnyIssuer"/> / <see cref="JwtAuthenticationOptions.AllowAnyAudience"/>,
    /// an HMAC secret under 32 bytes, a <see cref="JwtAuthenticationOptions.MaxTokenLength"/> not positive, or a negative
    /// clock skew or expiry warning.
    /// </exception>
    public AccessTokenValidator(
        IOptions<JwtAuthenticationOptions> options,
        ILogger<AccessTokenValidator>? logger = null,
        IAccessTokenRevocation? revocation = null,
        TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options.Value;
        _options.Validate();
        _time = timeProvider ?? TimeProvider.System;
        _origin = _time.GetTimestamp();
        _logger = (ILogger?)logger ?? Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;
        _revocation = revocation;
        var metadataAddress = _options.MetadataAddress
            ?? (_options.Authority is { } authority ? authority.TrimEnd('/') + "/.well-known/openid-configuration" : null);
        if (metadataAddress is not null)
        {
            _metadataAddress = metadataAddress;
            _documents = new HttpDocumentRetriever { RequireHttps = _options.RequireHttpsMetadata };
        }
        _parameters = new TokenValidationParameters
        {
            ValidateIssuer = _options.Issuer is not null || _metadataAddress is not null,
            // IdentityModel calls a custom issuer validator even when ValidateIssuer is false: set it only when needed.
            IssuerValidator = _options.Issuer is not null || _metadataAddress is not null ? ValidateIssuer : null,
            ValidateAudience = _options.Audience is not null,
            ValidAudience = _options.Audience,
            ValidateLifetime = true,
            RequireExpirationTime = _options.RequireExpirationTime,
            RequireSignedTokens = true,
            ClockSkew = _options.ClockSkew,
            ValidTypes = _options.ValidTokenTypes.ToArray(),
            ValidAlgorithms = [.. HmacAlgorithms, .. RsaAlgorithms, .. EcdsaAlgorithms],
            IssuerSigningKeyResolver = ResolveKeys,
            NameClaimType = "name",
            RoleClaimType = "role",
            ValidateIssuerSigningKey = false,
            SaveSigninToken = false,
        };
    }

    /// <summary>
    /// Verifies a token. Returns the user and expiry, or a refusal code (<see cref="AuthErrorCodes"/>).
    /// Never throws for a bad token and never logs it.
    /// </summary>
    public async ValueTask<AccessTokenValidationResult> ValidateAsync(string token, CancellationToken cancellationToken = default)
    {
        if (string.IsNullOrEmpty(token))
        {
            return AccessTokenValidationResult.Fail(AuthErrorCodes.TokenMissing);
        }
        if (token.Length > _options.MaxTokenLength)
        {
            // Refused unread: no parsing work for an attacker's megabyte.
            return AccessTokenValidationResult.Fail(AuthErrorCodes.TokenInvalid);
        }
        var result = _cache.TryGetValue(token, out var cached) && StillPublished(cached.SourceKey) ? cached.Result : await VerifyAsync(token, cancellationToken).ConfigureAwait(false);
        if (!result.IsValid)
        {
            return result;
        }
        if (DateTimeOffset.UtcNow > result.ExpiresAt + _options.ClockSkew)
        {
            _cache.TryRemove(token, out _);
            return AccessTokenValidationResult.Fail(AuthErrorCodes.TokenExpired);
        }
        if (_revocation is not null && await _revocation.IsRevokedAsync(result.Principal!, cancellationToken).ConfigureAwait(false))
        {
            return AccessTokenValidationResult.Fail(AuthErrorCodes.TokenRevoked);
        }
        return result;
    }

    /// <summary>Whether a key a cached verification relied on is still one of its source's (a retired key is removed).</summary>
    private bool StillPublished(SecurityKey? sourceKey)
    {
        if (sourceKey is null)
        {
            return true;
        }
        foreach (var source in _options.SigningKeySources)
        {
            foreach (var key in source.Keys)
            {
                if (ReferenceEquals(key, sourceKey))
                {
                    return true;
                }
            }
        }
        return false;
    }

    /// <summary>The key if a rotating source gave it (so its removal must end cached verifications), else null.</summary>
    private SecurityKey? FromSource(SecurityKey? key) => key is not null && _options.SigningKeySources.Count > 0 && StillPublished(key) ? key : null;

    /// <summary>Full verifications done (cache hits excluded): what a reconnect storm must not multiply.</summary>
    public long Verifications => Interlocked.Read(ref _verifications);

    private async ValueTask<AccessTokenValidationResult> VerifyAsync(string token, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _verifications);
        if (_metadataAddress is not null)
        {
            await LoadMetadataAsync(refresh: false, cancellationToken).ConfigureAwait(false);
        }
        if (SignatureFailsForEveryKey(token))
        {
            Log.TokenRefused(_logger, AuthErrorCodes.TokenInvalid, nameof(SecurityTokenInvalidSignatureException));
            return AccessTokenValidationResult.Fail(AuthErrorCodes.TokenInvalid);
        }
        var validation = await _handler.ValidateTokenAsync(token, _parameters).ConfigureAwait(false);
        if (!validation.IsValid && _options.SigningKeySources.Count > 0 && validation.Exception is SecurityTokenSignatureKeyNotFoundException)
        {
            // A kid no source knows yet: another node may have started signing with a key this one has not loaded.
            foreach (var source in _options.SigningKeySources)
            {
                await source.RefreshAsync(cancellationToken).ConfigureAwait(false);
            }
            validation = await _handler.ValidateTokenAsync(token, _parameters).ConfigureAwait(false);
        }
        if (!validation.IsValid && _metadataAddress is not null && validation.Exception is SecurityTokenSignatureKeyNotFoundException)
        {
            // An unknown kid may mean the issuer rotated its keys: refetch (at most once per refresh interval).
            await LoadMetadataAsync(refresh: true, cancellationToken).ConfigureAwait(false);
            validation = await _handler.ValidateTokenAsync(token, _parameters).ConfigureAwait(false);
        }
        if (!validation.IsValid)
        {
            var code = validation.Exception is SecurityTokenExpiredException ? AuthErrorCodes.TokenExpired : AuthErrorCodes.TokenInvalid;
            Log.TokenRefused(_logger, code, validation.Exception?.GetType().Name ?? "unknown");
            return AccessTokenValidationResult.Fail(code);
        }
        var jwt = (JsonWebToken)validation.SecurityToken;
        if (HasCriticalHeader(jwt))
        {
            // RFC 7515 §4.1.11: a recipient must reject a JWS whose crit lists extensions it does not understand,
            // and Tessera understands none (not even RFC 7797's b64). IdentityModel ignores crit, so check here.
            Log.TokenRefused(_logger, AuthErrorCodes.TokenInvalid, "crit header");
            return AccessTokenValidationResult.Fail(AuthErrorCodes.TokenInvalid);
        }
        var expires = jwt.TryGetPayloadValue<long>("exp", out var exp) ? DateTimeOffset.FromUnixTimeSeconds(exp) : DateTimeOffset.MaxValue - _options.ClockSkew;
        var result = new AccessTokenValidationResult(new ClaimsPrincipal(validation.ClaimsIdentity), expires, null);
        if (_options.CacheSize > 0)
        {
            if (_cache.Count >= _options.CacheSize)
            {
                // Crude but bounded: a full cache starts over rather than growing.
                _cache.Clear();
            }
            _cache[token] = (result, FromSource(jwt.SigningKey));
        }
        return result;
    }

    /// <summary>
    /// Fetches the discovery document and JWKS: on first use, every 12 hours, and when a token names an unknown
    /// kid — the latter at most once per <see cref="JwtAuthenticationOptions.MetadataRefreshInterval"/>, so
    /// forged kids cannot make us hammer the issuer. Fetched inline (not in the background) so the token that
    /// revealed a rotation is verified against the new keys. After a failed fetch nothing is fetched for 1 s,
    /// doubling with each further failure up to <see cref="MaxBackoff"/>: a down issuer is not hammered and
    /// handshakes meanwhile do not wait for it (they use the keys already known, or are refused).
    /// </summary>
    private async Task LoadMetadataAsync(bool refresh, CancellationToken cancellationToken)
    {
        if (!NeedsFetch(refresh, NowMs()))
        {
            return;
        }
        await _metadataLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var now = NowMs();
            if (!NeedsFetch(refresh, now))
            {
                return;
            }
            var previousKidRefetch = _lastKidRefetchAt;
            if (refresh)
            {
                _lastKidRefetchAt = now;
            }
            try
            {
                var configuration = await OpenIdConnectConfigurationRetriever.GetAsync(_metadataAddress!, _documents!, cancellationToken).ConfigureAwait(false);
                _metadataKeys = configuration.SigningKeys.ToList();
                _metadataIssuer = configuration.Issuer;
                _metadataFetchedAt = now;
                _metadataFailures = 0;
                _metadataRetryAt = long.MinValue;
            }
            catch (Exception ex) when (ex is InvalidOperationException or IOException or HttpRequestException or ArgumentException or System.Text.Json.JsonException
                || (ex is OperationCanceledException && !cancellationToken.IsCancellationRequested))
            {
                // The backoff, not the unknown-kid interval, paces the next attempt: a failed refetch did not load anything.
                _lastKidRefetchAt = previousKidRefetch;
                _metadataFailures++;
                var backoff = Backoff(_metadataFailures, MaxBackoff(_options.MetadataRefreshInterval));
                _metadataRetryAt = NowMs() + (long)backoff.TotalMilliseconds;
                Log.MetadataUnavailable(_logger, _metadataFailures, backoff.TotalSeconds, ex);
            }
        }
        finally
        {
            _metadataLock.Release();
        }
    }

    private long NowMs() => (long)_time.GetElapsedTime(_origin).TotalMilliseconds;

    /// <summary>The longest wait between two attempts at a failing issuer: the refresh interval, between 1 s and 1 min.</summary>
    internal static TimeSpan MaxBackoff(TimeSpan refreshInterval) =>
        refreshInterval < TimeSpan.FromSeconds(1) ? TimeSpan.FromSeconds(1)
        : refreshInterval > TimeSpan.FromMinutes(1) ? TimeSpan.FromMinutes(1)
        : refreshInterval;

    /// <summary>1 s after the first failure, doubling after each further one, never more than <paramref name="max"/>.</summary>
    internal static TimeSpan Backoff(int failures, TimeSpan max)
    {
        var seconds = failures >= 31 ? double.MaxValue : Math.Pow(2, Math.Max(0, failures - 1));
        return seconds >= max.TotalSeconds ? max : TimeSpan.FromSeconds(seconds);
    }

    private bool NeedsFetch(bool refresh, long now)
    {
        if (_metadataRetryAt != long.MinValue && now < _metadataRetryAt)
        {
            return false;
        }
        if (_metadataFetchedAt == long.MinValue)
        {
            return true;
        }
        if (refresh)
        {
            return _lastKidRefetchAt == long.MinValue || now - _lastKidRefetchAt >= (long)_options.MetadataRefreshInterval.TotalMilliseconds;
        }
        return now - _metadataFetchedAt >= (long)TimeSpan.FromHours(12).TotalMilliseconds;
    }

    /// <summary>Whether the token's header has <c>crit</c> (RFC 7515 §4.1.11), whatever its value.</summary>
    private static bool HasCriticalHeader(JsonWebToken jwt)
    {
        // The header's JSON itself, so the answer does not depend on how IdentityModel converts an array value.
        try
        {
            using var header = System.Text.Json.JsonDocument.Parse(Base64UrlEncoder.DecodeBytes(jwt.EncodedHeader));
            return header.RootElement.ValueKind == System.Text.Json.JsonValueKind.Object && header.RootElement.TryGetProperty("crit", out _);
        }
        catch (Exception ex) when (ex is System.Text.Json.JsonException or FormatException or ArgumentException)
        {
            return true;
        }
    }

    private string ValidateIssuer(string issuer, SecurityToken token, TokenValidationParameters parameters)
    {
        var expected = _options.Issuer ?? _metadataIssuer;
        if (expected is not null && string.Equals(issuer, expected, StringComparison.Ordinal))
        {
            return issuer;
        }
        throw new SecurityTokenInvalidIssuerException("The token's issuer is not the configured one.");
    }

    /// <summary>
    /// Whether the token is well formed and signed with an HMAC algorithm of ours, the keys it could be signed with are
    /// known, and none of them verifies its signature: a forged or mis-signed token, refused without IdentityModel's
    /// full validation, which reports a bad signature by throwing, catching and formatting an exception (perf: a tenth
    /// of a refusal's CPU, most of it unwinding). The signature is checked with IdentityModel's own providers, as
    /// that validation would. Anything less clear-cut returns false and takes the full path unchanged: a malformed
    /// token, another algorithm, no matching key, or a <c>kid</c> that only a refetch of rotating keys or metadata
    /// could resolve (with those configured, only a token whose <c>kid</c> names a known key is judged here).
    /// </summary>
    private bool SignatureFailsForEveryKey(string token)
    {
        try
        {
            if (!_handler.CanReadToken(token))
            {
                return false;
            }
            var jwt = new JsonWebToken(token);
            var alg = jwt.Alg;
            // HMAC only: checking it costs microseconds, so a valid token verified a second time by the full path
            // (once, before it is cached) loses nothing; an RSA or ECDSA check would cost as much again.
            if (jwt.IsEncrypted || FamilyOf(alg) != KeyFamily.Hmac || !_parameters.ValidAlgorithms.Contains(alg))
            {
                return false;
            }
            var keys = MatchingKeys(alg, jwt.Kid);
            if (keys.Count == 0)
            {
                return false;
            }
            if ((_options.SigningKeySources.Count > 0 || _metadataAddress is not null)
                && (string.IsNullOrEmpty(jwt.Kid) || !keys.Exists(k => string.Equals(k.KeyId, jwt.Kid, StringComparison.Ordinal))))
            {
                return false;
            }
            var input = System.Text.Encoding.ASCII.GetBytes(jwt.EncodedHeader + "." + jwt.EncodedPayload);
            var signature = Base64UrlEncoder.DecodeBytes(jwt.EncodedSignature);
            foreach (var key in keys)
            {
                var factory = key.CryptoProviderFactory ?? CryptoProviderFactory.Default;
                if (!factory.IsSupportedAlgorithm(alg, key))
                {
                    return false;
                }
                var provider = factory.CreateForVerifying(key, alg);
                try
                {
                    if (provider.Verify(input, signature))
                    {
                        return false;
                    }
                }
                finally
                {
                    factory.ReleaseSignatureProvider(provider);
                }
            }
            return true;
        }
        catch (Exception ex) when (ex is ArgumentException or FormatException or SecurityTokenException or NotSupportedException or InvalidOperationException or System.Security.Cryptography.CryptographicException)
        {
            // Not clear-cut (IdentityModel refuses what it cannot parse with the same code): the full path decides.
            return false;
        }
    }

    private IEnumerable<SecurityKey> ResolveKeys(string token, SecurityToken securityToken, string kid, TokenValidationParameters parameters) =>
        MatchingKeys((securityToken as JsonWebToken)?.Alg ?? string.Empty, kid);

    /// <summary>
    /// Only keys whose type matches the token's algorithm family, so an RSA public key can never serve as an
    /// HMAC secret; a kid only selects among configured keys (jku, x5u and embedded jwk are never fetched or used).
    /// </summary>
    private List<SecurityKey> MatchingKeys(string alg, string kid)
    {
        var matches = new List<SecurityKey>(2);
        AddMatching(_options.SigningKeys, alg, kid, matches);
        foreach (var source in _options.SigningKeySources)
        {
            AddMatching(source.Keys, alg, kid, matches);
        }
        AddMatching(_metadataKeys, alg, kid, matches);
        return matches;
    }

    private static void AddMatching(IEnumerable<SecurityKey> keys, string alg, string kid, List<SecurityKey> matches)
    {
        foreach (var key in keys)
        {
            if (!string.IsNullOrEmpty(kid) && !string.IsNullOrEmpty(key.KeyId) && !string.Equals(kid, key.KeyId, StringComparison.Ordinal))
            {
                continue;
            }
            if (!string.IsNullOrEmpty(kid) && string.IsNullOrEmpty(key.KeyId) && key is JsonWebKey)
            {
                continue;
            }
            if (Family(key) == FamilyOf(alg))
            {
                matches.Add(key);
            }
        }
    }

    private enum KeyFamily
    {
        None,
        Hmac,
        Rsa,
        Ecdsa,
    }

    private static KeyFamily FamilyOf(string alg) =>
        Array.IndexOf(HmacAlgorithms, alg) >= 0 ? KeyFamily.Hmac
        : Array.IndexOf(RsaAlgorithms, alg) >= 0 ? KeyFamily.Rsa
        : Array.IndexOf(EcdsaAlgorithms, alg) >= 0 ? KeyFamily.Ecdsa
        : KeyFamily.None;

    private static KeyFamily Family(SecurityKey key) => key switch
    {
        SymmetricSecurityKey => KeyFamily.Hmac,
        RsaSecurityKey => KeyFamily.Rsa,
        ECDsaSecurityKey => KeyFamily.Ecdsa,
        JsonWebKey { Kty: "RSA" } => KeyFamily.Rsa,
        JsonWebKey { Kty: "EC" } => KeyFamily.Ecdsa,
        JsonWebKey { Kty: "oct" } => KeyFamily.Hmac,
        X509SecurityKey => KeyFamily.Rsa,
        _ => KeyFamily.None,
    };

    private static partial class Log
    {
        // The token itself is never logged: only why it was refused.
        [LoggerMessage(201, LogLevel.Debug, "Access token refused: {Code} ({Reason}).")]
        public static partial void TokenRefused(ILogger logger, string code, string reason);

        [LoggerMessage(202, LogLevel.Warning, "OpenID Connect metadata could not be fetched (failure {Failures} in a row); using the keys already known, next attempt in {RetrySeconds} s at the earliest.")]
        public static partial void MetadataUnavailable(ILogger logger, int failures, double retrySeconds, Exception exception);
    }
}
