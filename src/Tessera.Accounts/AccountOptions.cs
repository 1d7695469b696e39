using Tessera.Auth;

namespace Tessera.Accounts;

/// <summary>Accounts and token issuing (configuration section <c>Tessera</c> / <c>Tessera:Auth</c>).</summary>
public sealed class AccountOptions
{
    /// <summary>Where the SQLite database and the generated signing key live.</summary>
    public string DataDirectory { get; set; } = "./data";

    public string Issuer { get; set; } = "tessera";

    public string Audience { get; set; } = "tessera";

    /// <summary>HS256 secret: the string's UTF-8 bytes or <c>base64:…</c>; generated and persisted when empty.</summary>
    public string? SigningKey { get; set; }

    public TimeSpan AccessTokenLifetime { get; set; } = TimeSpan.FromMinutes(15);

    public TimeSpan RefreshTokenLifetime { get; set; } = TimeSpan.FromDays(14);

    public bool AllowRegistration { get; set; } = true;

    /// <summary>Failed logins per username per minute before 429.</summary>
    public int FailedLoginsPerMinute { get; set; } = 10;

    /// <summary>Login, register and refresh requests per client address per minute before 429.</summary>
    public int LoginsPerMinutePerAddress { get; set; } = 60;

    public int MinimumPasswordLength { get; set; } = 8;

    /// <summary>How often the revocation log is read (revocations by other nodes or the command line).</summary>
    public TimeSpan RevocationPollInterval { get; set; } = TimeSpan.FromMilliseconds(250);

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
