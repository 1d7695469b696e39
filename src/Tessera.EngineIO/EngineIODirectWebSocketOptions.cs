namespace Tessera.EngineIO;

/// <summary>
/// Options of the direct WebSocket path (<c>UseEngineIODirectWebSockets</c>), which reads the first request head of
/// every new connection on its endpoint before Kestrel's HTTP stack does, and so is where half-open connections
/// (slowloris) are bounded.
/// </summary>
public sealed class EngineIODirectWebSocketOptions
{
    /// <summary>
    /// Connections per client address (IPv4 per address, IPv6 per /64) whose first request head has not arrived
    /// in full; a new connection beyond it is closed at once. An honest client sends its head right after it
    /// connects, so only a slowloris ever holds many. Null or 0: no limit (the default, as for the other
    /// per-address limits of the library; the Tessera server sets 100).
    /// </summary>
    public int? MaxPendingRequestHeadsPerAddress { get; set; }

    /// <summary>
    /// How long a new connection may take to send its first request head in full before it is closed (default
    /// 10 s; Kestrel's own <c>RequestHeadersTimeout</c> is 30 s).
    /// </summary>
    public TimeSpan RequestHeadTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Whether a session's frames are sent straight to the connection's socket (one non-blocking send per batch,
    /// waiting for the socket only when the kernel's buffer is full) rather than through Kestrel's output pipe and its
    /// send loop: about a sixth less CPU per broadcast delivery (docs/architecture.md). Only on a plain TCP connection
    /// that Kestrel's socket transport made (never under TLS); the input is still read from Kestrel's pipe. Turn it
    /// off if a connection middleware before this one rewrites what the app writes. Default true.
    /// </summary>
    public bool WriteToSocket { get; set; } = true;
}
