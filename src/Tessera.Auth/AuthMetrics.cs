using System.Diagnostics.Metrics;

namespace Tessera.Auth;

/// <summary>Authentication instruments (meter "Tessera.Auth", from the host's <see cref="IMeterFactory"/>).</summary>
internal sealed class AuthMetrics
{
    public AuthMetrics(IMeterFactory? factory = null)
    {
        var meter = factory?.Create("Tessera.Auth") ?? new Meter("Tessera.Auth");
        Handshakes = meter.CreateCounter<long>("tessera.auth.handshakes", description: "Socket.IO handshakes through JWT authentication");
        Refreshes = meter.CreateCounter<long>("tessera.auth.refreshes", description: "Token refreshes");
        Revocations = meter.CreateCounter<long>("tessera.auth.revocations", description: "Sockets disconnected by a revocation");
    }

    /// <summary>Handshakes through JWT authentication, tagged result=accepted|refused and code.</summary>
    public Counter<long> Handshakes { get; }

    /// <summary>In-band (auth:refresh) refreshes, tagged via=socket and result.</summary>
    public Counter<long> Refreshes { get; }

    /// <summary>Sockets disconnected by revocation, tagged scope=session|user.</summary>
    public Counter<long> Revocations { get; }

    public static KeyValuePair<string, object?> Tag(string key, string value) => new(key, value);
}
