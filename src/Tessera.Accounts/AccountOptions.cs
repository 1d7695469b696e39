using Tessera.Auth;

namespace Tessera.Accounts;

/// <summary>Accounts and token issuing (configuration section <c>Tessera</c> / <c>Tessera:Auth</c>).</summary>
public sealed class AccountOptions
{
    /// <summary>Where the SQLite database and the generated signing key live.</summary>
    public string DataDirectory { get; set; } = "./data";

    /// <summary>
    /// The <c>iss</c> of the tokens this server issues, and the issuer required on incoming tokens unless
    /// <see cref="JwtAuthenticationOptions.Issuer"/> is set. Default <c>tessera</c>.
    /// </summary>
    public string Issuer { get; set; } = "tessera";

    /// <summary>
    /// The <c>aud</c> of the tokens this server issues, and the audience required on incoming tokens unless
    /// <see cref="JwtAuthenticationOptions.Audience"/> is set. Default <c>tessera</c>.
    /// </summary>
    public string Audience { get; set; } = "tessera";

    /// <summary>HS256 secret: the string's UTF-8 bytes or <c>base64:…</c>; generated and persisted when empty.</summary>
    public string? SigningKey { get; set; }

    /// <summary>
    /// How access tokens are signed: <c>HS256</c> (the default: one secret, <see cref="SigningKey"/>, that every verifier must
    /// hold), or <c>ES256</c> / <c>RS256</c>: key pairs whose public halves are published at <c>/.well-known/jwks.json</c>, so any
    /// service can verify tokens without a secret. Asymmetric keys come from <see cref="SigningKeyFiles"/> when set; otherwise
    /// they are generated, kept in the account store (private keys protected with ASP.NET Core Data Protection, its key ring in
    /// the same store) and rotated every <see cref="KeyRotationInterval"/>.
    /// </summary>
    public string SigningAlgorithm { get; set; } = "HS256";

    /// <summary>
    /// PEM files of private keys (PKCS#8 <c>PRIVATE KEY</c>, or <c>EC PRIVATE KEY</c> / <c>RSA PRIVATE KEY</c>) for ES256 (P-256)
    /// or RS256 (2048 bits or more), instead of generated keys: the first signs, every one is published. Rotation by hand: add the
    /// new key second and restart the nodes; once verifiers have fetched it, move it first; drop the old one after the access
    /// token lifetime.
    /// </summary>
    public IList<string> SigningKeyFiles { get; } = new List<string>();

    /// <summary>How long each generated key signs before the next takes over (ES256 / RS256). Default 30 days.</summary>
    public TimeSpan KeyRotationInterval { get; set; } = TimeSpan.FromDays(30);

    /// <summary>
    /// How long a generated key is published before it signs, so that every node and every verifier caching the JWKS knows it
    /// first (ES256 / RS256). Shorter than <see cref="KeyRotationInterval"/>. Default 1 day.
    /// </summary>
    public TimeSpan KeyPublicationLead { get; set; } = TimeSpan.FromDays(1);

    /// <summary>
    /// Configures the Data Protection provider that protects generated private keys at rest (its key ring is kept in the
    /// account store; it is not the application's own). Without this its keys are stored unencrypted beside what they protect;
    /// e.g. <c>b =&gt; b.ProtectKeysWithCertificate(cert)</c> encrypts them with a certificate kept elsewhere.
    /// </summary>
    public Action<Microsoft.AspNetCore.DataProtection.IDataProtectionBuilder>? ConfigureDataProtection { get; set; }

    /// <summary>Lifetime of issued access tokens (their <c>exp</c> rounded up to the whole second). Default 15 minutes.</summary>
    public TimeSpan AccessTokenLifetime { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>
    /// Lifetime of each refresh token, counted from its issue (each rotation issues a new one), and the <c>Max-Age</c> of
    /// the <c>refresh_token</c> cookie. Default 14 days.
    /// </summary>
    public TimeSpan RefreshTokenLifetime { get; set; } = TimeSpan.FromDays(14);

    /// <summary>
    /// How long after a refresh token's rotation a second use of it still gets new tokens in the same session instead of
    /// revoking it (two tabs refreshing at once). Each such use gets a new refresh token of its own, single-use like any
    /// other; the time counts from the first rotation, so re-using the token does not extend it. Past it, or with
    /// <see cref="TimeSpan.Zero"/> (the default), a second use is a theft signal and revokes the session. Must be
    /// non-negative and shorter than <see cref="RefreshTokenLifetime"/>.
    /// </summary>
    public TimeSpan RefreshReuseGrace { get; set; } = TimeSpan.Zero;

    /// <summary>Whether <c>POST /auth/register</c> creates accounts; when false it answers 404. Default true.</summary>
    public bool AllowRegistration { get; set; } = true;

    /// <summary>
    /// Failed logins per username and client address (IPv6: per /64) per minute before 429 with <c>Retry-After</c>; the
    /// count is taken before the password is verified, so parallel guesses cannot overrun it. Beyond ten times this from all
    /// addresses together within the minute, each further failure for that username is answered late (250 ms per failure
    /// over the threshold, at most 5 s), never refused; a right password is never delayed, and from an address without
    /// recent failures for that username it is never refused because of other addresses. Default 10.
    /// </summary>
    public int FailedLoginsPerMinute { get; set; } = 10;

    /// <summary>Login, register and refresh requests per client address per minute before 429.</summary>
    public int LoginsPerMinutePerAddress { get; set; } = 60;

    /// <summary>The fewest characters (UTF-16 code units) a new password may have; passwords are also limited to 1,024. Default 8.</summary>
    public int MinimumPasswordLength { get; set; } = 8;

    /// <summary>
    /// How often the revocation log is read (revocations by other nodes or the command line) when the Socket.IO adapter does not
    /// reach other nodes: the single-host fallback, nodes sharing only the store. Default 250 ms.
    /// </summary>
    public TimeSpan RevocationPollInterval { get; set; } = TimeSpan.FromMilliseconds(250);

    /// <summary>
    /// How often the revocation log is read when a cluster adapter (Redis) carries revocations to every node at once: only to
    /// catch up with what was recorded while that adapter was away. Default 30 seconds.
    /// </summary>
    public TimeSpan RevocationCatchUpInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>The SQLite database file the default store uses: <c>tessera.db</c> in <see cref="DataDirectory"/>.</summary>
    public string DatabasePath => Path.Combine(DataDirectory, "tessera.db");

    /// <summary>What is wrong with these options, or null.</summary>
    internal string? Problem()
    {
        if (string.IsNullOrWhiteSpace(DataDirectory))
        {
            return "AccountOptions: DataDirectory is empty.";
        }
        if (string.IsNullOrEmpty(Issuer) || string.IsNullOrEmpty(Audience))
        {
            return "AccountOptions: Issuer and Audience must not be empty.";
        }
        if (AccessTokenLifetime <= TimeSpan.Zero || RefreshTokenLifetime <= TimeSpan.Zero)
        {
            return "AccountOptions: AccessTokenLifetime and RefreshTokenLifetime must be positive.";
        }
        if (FailedLoginsPerMinute <= 0 || LoginsPerMinutePerAddress <= 0 || MinimumPasswordLength <= 0)
        {
            return "AccountOptions: FailedLoginsPerMinute, LoginsPerMinutePerAddress and MinimumPasswordLength must be positive.";
        }
        if (RefreshReuseGrace < TimeSpan.Zero || RefreshReuseGrace >= RefreshTokenLifetime)
        {
            return $"AccountOptions: RefreshReuseGrace ({RefreshReuseGrace}) must be non-negative and shorter than RefreshTokenLifetime ({RefreshTokenLifetime}).";
        }
        if (SigningAlgorithm is not ("HS256" or "ES256" or "RS256"))
        {
            return $"AccountOptions: SigningAlgorithm (Tessera:Auth:SigningAlgorithm) is '{SigningAlgorithm}'; it must be HS256, ES256 or RS256.";
        }
        if (SigningAlgorithm == "HS256" && SigningKeyFiles.Count > 0)
        {
            return "AccountOptions: SigningKeyFiles are key pairs for ES256 or RS256; set SigningAlgorithm to the one they are for (HS256 uses SigningKey).";
        }
        if (KeyPublicationLead <= TimeSpan.Zero || KeyRotationInterval <= KeyPublicationLead)
        {
            return $"AccountOptions: KeyPublicationLead ({KeyPublicationLead}) must be positive and shorter than KeyRotationInterval ({KeyRotationInterval}).";
        }
        if (RevocationPollInterval <= TimeSpan.Zero || RevocationCatchUpInterval <= TimeSpan.Zero)
        {
            return "AccountOptions: RevocationPollInterval and RevocationCatchUpInterval must be positive.";
        }
        return null;
    }
}
