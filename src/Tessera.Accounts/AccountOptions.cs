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

    /// <summary>Lifetime of issued access tokens (their <c>exp</c> rounded up to the whole second). Default 15 minutes.</summary>
    public TimeSpan AccessTokenLifetime { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>
    /// Lifetime of each refresh token, counted from its issue (each rotation issues a new one), and the <c>Max-Age</c> of
    /// the <c>refresh_token</c> cookie. Default 14 days.
    /// </summary>
    public TimeSpan RefreshTokenLifetime { get; set; } = TimeSpan.FromDays(14);

    /// <summary>Whether <c>POST /auth/register</c> creates accounts; when false it answers 404. Default true.</summary>
    public bool AllowRegistration { get; set; } = true;

    /// <summary>Failed logins per username per minute before 429.</summary>
    public int FailedLoginsPerMinute { get; set; } = 10;

    /// <summary>Login, register and refresh requests per client address per minute before 429.</summary>
    public int LoginsPerMinutePerAddress { get; set; } = 60;

    /// <summary>The fewest characters (UTF-16 code units) a new password may have; passwords are also limited to 1,024. Default 8.</summary>
    public int MinimumPasswordLength { get; set; } = 8;

    /// <summary>How often the revocation log is read (revocations by other nodes or the command line).</summary>
    public TimeSpan RevocationPollInterval { get; set; } = TimeSpan.FromMilliseconds(250);

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
        if (RevocationPollInterval <= TimeSpan.Zero)
        {
            return "AccountOptions: RevocationPollInterval must be positive.";
        }
        return null;
    }
}
