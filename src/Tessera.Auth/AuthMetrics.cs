using System.Diagnostics.Metrics;

namespace Tessera.Auth;

/// <summary>Authentication instruments (meter "Tessera.Auth").</summary>
internal static class AuthMetrics
{
    public static readonly Meter Meter = new("Tessera.Auth");

    /// <summary>Handshakes through JWT authentication, tagged result=accepted|refused and code.</summary>
    public static readonly Counter<long> Handshakes = Meter.CreateCounter<long>("tessera.auth.handshakes", description: "Socket.IO handshakes through JWT authentication");

    /// <summary>In-band (auth:refresh) and HTTP (/auth/refresh) refreshes, tagged via and result.</summary>
    public static readonly Counter<long> Refreshes = Meter.CreateCounter<long>("tessera.auth.refreshes", description: "Token refreshes");

    /// <summary>Sockets disconnected by revocation, tagged scope=session|user.</summary>
    public static readonly Counter<long> Revocations = Meter.CreateCounter<long>("tessera.auth.revocations", description: "Sockets disconnected by a revocation");

    public static readonly Counter<long> Logins = Meter.CreateCounter<long>("tessera.auth.logins", description: "Login attempts, tagged result");

    public static KeyValuePair<string, object?> Tag(string key, string value) => new(key, value);
}
