using Tessera.Auth;

namespace Tessera.Accounts;

/// <summary>A user as the account store holds it.</summary>
/// <param name="Id">The user's id, the <c>sub</c> of their access tokens.</param>
/// <param name="Username">The name as registered (case kept); lookups by name ignore case.</param>
/// <param name="PasswordHash">The password hash (ASP.NET Core Identity's <c>PasswordHasher</c> format), never the password.</param>
/// <param name="Disabled">Whether the user is disabled: they cannot log in, and their sessions count as revoked.</param>
/// <param name="CreatedAt">When the account was created.</param>
public sealed record UserAccount(string Id, string Username, string PasswordHash, bool Disabled, DateTimeOffset CreatedAt);

/// <summary>How a refresh (<c>IAccountStore.RotateRefreshTokenAsync</c>) ended.</summary>
public enum RefreshOutcome
{
    /// <summary>The refresh token was traded for the new one; <see cref="RefreshResult"/> names the session and user.</summary>
    Rotated,
    /// <summary>Unknown token, or its session is revoked or its user disabled (HTTP code <c>refresh_invalid</c>).</summary>
    Invalid,
    /// <summary>The refresh token is past its expiry (HTTP code <c>refresh_expired</c>).</summary>
    Expired,
    /// <summary>The refresh token had already been traded: the whole session is now revoked (HTTP code <c>refresh_reused</c>).</summary>
    Reused,
    /// <summary>
    /// The refresh token had already been traded, within the reuse grace of that rotation (<see cref="AccountOptions.RefreshReuseGrace"/>),
    /// in a live session: a new refresh token was stored in the same session, as for <see cref="Rotated"/>, and nothing was revoked.
    /// </summary>
    ReusedWithinGrace,
}

/// <summary>The result of a refresh: on success, the session and user the new tokens belong to.</summary>
public sealed record RefreshResult(RefreshOutcome Outcome, string? SessionId = null, string? UserId = null);

/// <summary>A revocation as the store records it, for every node (and the CLI) to act on.</summary>
public sealed record RevocationEvent(long Id, string? SessionId, string? UserId, DateTimeOffset At);

/// <summary>
/// A generated signing key (ES256 or RS256) as the store keeps it, for every node to sign and verify with.
/// </summary>
/// <param name="Generation">1 for the first key, one more for each rotation: two nodes rotating at once add the same generation, and only one of them succeeds.</param>
/// <param name="KeyId">The key's <c>kid</c> (its RFC 7638 thumbprint), named in the header of each token it signs and in the JWKS.</param>
/// <param name="Algorithm"><c>ES256</c> or <c>RS256</c>.</param>
/// <param name="ProtectedPrivateKey">The PKCS#8 private key, protected with ASP.NET Core Data Protection (its key ring kept in the same store), base64.</param>
/// <param name="CreatedAt">When the key was generated (and published).</param>
/// <param name="ActivatesAt">When it starts to sign: after every node and verifier has had time to fetch it.</param>
/// <param name="RetiresAt">When its successor is due to start signing.</param>
public sealed record StoredSigningKey(long Generation, string KeyId, string Algorithm, string ProtectedPrivateKey, DateTimeOffset CreatedAt, DateTimeOffset ActivatesAt, DateTimeOffset RetiresAt);

/// <summary>
/// Users, login sessions and refresh tokens. SQLite by default; another database implements this interface
/// without the endpoints changing. Refresh tokens are stored only as SHA-256 hashes.
/// </summary>
public interface IAccountStore
{
    /// <summary>Creates or migrates the schema.</summary>
    Task InitializeAsync(CancellationToken cancellationToken = default);

    /// <summary>Null when the username is taken (case-insensitively).</summary>
    Task<UserAccount?> CreateUserAsync(string username, string passwordHash, CancellationToken cancellationToken = default);

    /// <summary>The user of this name, compared case-insensitively; null if none.</summary>
    Task<UserAccount?> FindUserByNameAsync(string username, CancellationToken cancellationToken = default);

    /// <summary>The user with this id (a token's <c>sub</c>); null if none.</summary>
    Task<UserAccount?> FindUserByIdAsync(string id, CancellationToken cancellationToken = default);

    /// <summary>Every user, disabled ones included (the SQLite store lists them oldest first).</summary>
    Task<IReadOnlyList<UserAccount>> ListUsersAsync(CancellationToken cancellationToken = default);

    /// <summary>Disables (or re-enables) a user; disabling revokes every session. False if no such user.</summary>
    Task<bool> SetDisabledAsync(string userId, bool disabled, CancellationToken cancellationToken = default);

    /// <summary>
    /// Replaces a user's password hash, as after a login whose hash needed upgrading; sessions are not revoked. Nothing
    /// happens if there is no such user.
    /// </summary>
    Task UpdatePasswordHashAsync(string userId, string passwordHash, CancellationToken cancellationToken = default);

    /// <summary>A new login session with its first refresh token.</summary>
    Task CreateSessionAsync(string sessionId, string userId, string refreshTokenHash, DateTimeOffset refreshExpiresAt, CancellationToken cancellationToken = default);

    /// <summary>
    /// Atomically trades a refresh token for a new one in the same session. A token already traded is a theft
    /// signal: the whole session is revoked and <see cref="RefreshOutcome.Reused"/> returned. Of two concurrent
    /// calls with the same token, at most one rotates.
    /// </summary>
    Task<RefreshResult> RotateRefreshTokenAsync(string tokenHash, string newTokenHash, DateTimeOffset newExpiresAt, DateTimeOffset now, CancellationToken cancellationToken = default);

    /// <summary>
    /// As <see cref="RotateRefreshTokenAsync(string, string, DateTimeOffset, DateTimeOffset, CancellationToken)"/>, except that a
    /// token traded at most <paramref name="reuseGrace"/> before <paramref name="now"/> (measured from its first trade, so the window
    /// never slides), in a session neither revoked nor of a disabled user, is not a theft signal: <paramref name="newTokenHash"/> is
    /// stored in the same session and <see cref="RefreshOutcome.ReusedWithinGrace"/> returned (two tabs refreshing at once). Every
    /// token so handed out is a new one, single-use like any other. <see cref="TimeSpan.Zero"/> is strict reuse detection. A store
    /// that does not implement the grace inherits this default, which is strict detection whatever the grace.
    /// </summary>
    Task<RefreshResult> RotateRefreshTokenAsync(
        string tokenHash, string newTokenHash, DateTimeOffset newExpiresAt, DateTimeOffset now, TimeSpan reuseGrace, CancellationToken cancellationToken = default) =>
        RotateRefreshTokenAsync(tokenHash, newTokenHash, newExpiresAt, now, cancellationToken);

    /// <summary>Revokes one session (logout). False if it did not exist or was already revoked.</summary>
    Task<bool> RevokeSessionAsync(string sessionId, CancellationToken cancellationToken = default);

    /// <summary>Revokes every session of a user (logout everywhere).</summary>
    Task RevokeUserSessionsAsync(string userId, CancellationToken cancellationToken = default);

    /// <summary>Whether the session is revoked (or its user disabled).</summary>
    Task<bool> IsSessionRevokedAsync(string sessionId, CancellationToken cancellationToken = default);

    /// <summary>
    /// Whether <paramref name="sessionId"/> is a session of <paramref name="userId"/> that is not revoked, and the user exists and is
    /// not disabled: what an access token this server issued must name to be accepted (asked at handshakes and refreshes, cached
    /// for a second). The default implementation asks <see cref="IsSessionRevokedAsync"/> and <see cref="FindUserByIdAsync"/>,
    /// without checking that the session is the user's; stores override it with one read that does.
    /// </summary>
    async Task<bool> IsSessionActiveAsync(string sessionId, string userId, CancellationToken cancellationToken = default) =>
        !await IsSessionRevokedAsync(sessionId, cancellationToken).ConfigureAwait(false)
        && await FindUserByIdAsync(userId, cancellationToken).ConfigureAwait(false) is { Disabled: false };

    /// <summary>Revocations recorded after <paramref name="afterId"/>, oldest first.</summary>
    Task<IReadOnlyList<RevocationEvent>> RevocationsAfterAsync(long afterId, CancellationToken cancellationToken = default);

    /// <summary>
    /// Throws when the store cannot serve requests: cannot be read, or cannot commit writes (disk full, read-only).
    /// The default reads only; a store that can, also writes (the SQLite store rewrites one row).
    /// </summary>
    async Task CheckHealthAsync(CancellationToken cancellationToken = default) =>
        await LastRevocationIdAsync(cancellationToken).ConfigureAwait(false);

    /// <summary>The id of the newest revocation recorded (0 if none).</summary>
    Task<long> LastRevocationIdAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// Every signing key kept (<c>Auth:SigningAlgorithm</c> ES256 or RS256), oldest generation first. The default throws
    /// <see cref="NotSupportedException"/>: a store without key storage serves HS256 (or keys loaded from PEM files) only.
    /// </summary>
    Task<IReadOnlyList<StoredSigningKey>> ListSigningKeysAsync(CancellationToken cancellationToken = default) =>
        throw new NotSupportedException($"{GetType().Name} does not keep signing keys; use HS256 or PEM key files.");

    /// <summary>Adds a signing key; false (and nothing changed) when its generation or key id is already there.</summary>
    Task<bool> TryAddSigningKeyAsync(StoredSigningKey key, CancellationToken cancellationToken = default) =>
        throw new NotSupportedException($"{GetType().Name} does not keep signing keys; use HS256 or PEM key files.");

    /// <summary>Removes a signing key (once the last token it signed has expired); nothing happens if there is none.</summary>
    Task DeleteSigningKeyAsync(string keyId, CancellationToken cancellationToken = default) =>
        throw new NotSupportedException($"{GetType().Name} does not keep signing keys; use HS256 or PEM key files.");

    /// <summary>
    /// The XML elements of the Data Protection key ring that protects the signing keys (ASP.NET Core's <c>IXmlRepository</c>,
    /// which is synchronous: called when the key ring is loaded, at first use and about once a day).
    /// </summary>
    IReadOnlyList<string> GetDataProtectionKeys() =>
        throw new NotSupportedException($"{GetType().Name} does not keep a Data Protection key ring.");

    /// <summary>Adds an element to the Data Protection key ring (synchronous, as <c>IXmlRepository.StoreElement</c>).</summary>
    void StoreDataProtectionKey(string friendlyName, string xml) =>
        throw new NotSupportedException($"{GetType().Name} does not keep a Data Protection key ring.");
}
