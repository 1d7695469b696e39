using System.Diagnostics.Metrics;

namespace Tessera.Accounts.Internal;

/// <summary>Account instruments (meter "Tessera.Accounts", from the host's <see cref="IMeterFactory"/>).</summary>
internal sealed class AccountsMetrics
{
    public AccountsMetrics(IMeterFactory factory)
    {
        var meter = factory.Create("Tessera.Accounts");
        Logins = meter.CreateCounter<long>("tessera.auth.logins", description: "Login attempts, tagged result");
        Refreshes = meter.CreateCounter<long>("tessera.auth.refreshes", description: "Token refreshes");
    }

    public Counter<long> Logins { get; }

    /// <summary>HTTP refreshes (/auth/refresh), tagged via=http and result; in-band ones count in Tessera.Auth's.</summary>
    public Counter<long> Refreshes { get; }

    public static KeyValuePair<string, object?> Tag(string key, string value) => new(key, value);
}
