using Microsoft.AspNetCore.Http;

namespace Tessera.EngineIO;

/// <summary>The Engine.IO transports an endpoint accepts (Node's <c>transports</c> option).</summary>
[Flags]
public enum EngineIOTransports
{
    /// <summary>HTTP long-polling (<c>transport=polling</c>).</summary>
    Polling = 1,
    /// <summary>WebSocket (<c>transport=websocket</c>), both as the first transport and as an upgrade from polling.</summary>
    WebSocket = 2,
    /// <summary>Both transports: the default.</summary>
    All = Polling | WebSocket,
}

/// <summary>Options of one Engine.IO endpoint. Defaults match Node's engine.io 6.x.</summary>
public sealed class EngineIOOptions
{
    /// <summary>How often the server pings each client.</summary>
    public TimeSpan PingInterval { get; set; } = TimeSpan.FromMilliseconds(25_000);

    /// <summary>How long the server waits for the pong before closing the session with "ping timeout".</summary>
    public TimeSpan PingTimeout { get; set; } = TimeSpan.FromMilliseconds(20_000);

    /// <summary>Largest message (WebSocket) or POST body (polling) in bytes; larger ones close the session.</summary>
    public int MaxPayload { get; set; } = 1_000_000;

    /// <summary>
    /// Most bytes one session may have queued for its client and not yet written (the batch being written
    /// included). A send that would go past it closes the session as a slow consumer: the handler is told
    /// "transport error", and the session is counted in <c>tessera.engineio.slow_consumers</c>. One message is
    /// always accepted when nothing else is queued, whatever its size. Default 4 MiB.
    /// </summary>
    public long MaxBufferedBytes { get; set; } = 4 * 1024 * 1024;

    /// <summary>
    /// How long one write to a WebSocket may wait for the client to take it. A client that stops reading stalls
    /// the write; past this time its session is closed as a slow consumer (as for <see cref="MaxBufferedBytes"/>).
    /// While a write on the direct WebSocket path is stalled, the connection's input is not read either.
    /// Default 30 s.
    /// </summary>
    public TimeSpan WriteTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Most sessions open at once on this endpoint from one client address (IPv6 addresses counted per /64, an
    /// IPv4-mapped IPv6 address as its IPv4 address); further handshakes, on every transport, are refused with
    /// HTTP 429 and an Engine.IO error body. Null or 0 (the default) sets no limit.
    /// </summary>
    public int? MaxConnectionsPerAddress { get; set; }

    /// <summary>
    /// Most new sessions a second from one client address (grouped as for <see cref="MaxConnectionsPerAddress"/>),
    /// in bursts of up to twice as many (or of <see cref="MaxConnectionsPerAddress"/>, if that is more, so that as
    /// many sessions as may be open at once can be opened at once); further handshakes are refused with HTTP 429 and an Engine.IO error body,
    /// so a handshake flood from one address costs a refusal each instead of a session. Clients retry with their
    /// reconnection back-off. Null or 0 (the default) sets no limit.
    /// </summary>
    public int? MaxHandshakesPerSecondPerAddress { get; set; }

    /// <summary>How long a WebSocket probe may take to send its upgrade packet.</summary>
    public TimeSpan UpgradeTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// The transports accepted; a request for another gets the "Transport unknown" error. Defaults to
    /// <see cref="EngineIOTransports.All"/>; at least one is required.
    /// </summary>
    public EngineIOTransports Transports { get; set; } = EngineIOTransports.All;

    /// <summary>Whether polling sessions may upgrade to WebSocket (announced in the handshake's "upgrades").</summary>
    public bool AllowUpgrades { get; set; } = true;

    /// <summary>
    /// Accept Engine.IO protocol v3 clients (socket.io-client 2.x), as Node's <c>allowEIO3</c>: off by default, a
    /// handshake without <c>EIO=4</c> is then refused with "Unsupported protocol version" (HTTP 400).
    /// </summary>
    public bool AllowEIO3 { get; set; }

    /// <summary>WebSocket permessage-deflate. Off by default, as in Node: it costs memory and CPU per connection.</summary>
    public bool PerMessageDeflate { get; set; }

    /// <summary>Sends the session id in a cookie on the handshake when set (Node's <c>cookie</c> option).</summary>
    public EngineIOCookieOptions? Cookie { get; set; }

    /// <summary>CORS for the polling transport; null sends no CORS headers (use ASP.NET Core's CORS instead if preferred).</summary>
    public EngineIOCorsOptions? Cors { get; set; }

    /// <summary>
    /// Decides whether a handshake may proceed: the place for HTTP-level checks. Return
    /// <see cref="EngineIORequestDecision.Refuse"/> to answer with a status code and a message.
    /// </summary>
    public Func<HttpContext, ValueTask<EngineIORequestDecision>>? AllowRequest { get; set; }

    // Task.WaitAsync's own bound on a timeout.
    private static readonly TimeSpan MaxWriteTimeout = TimeSpan.FromDays(49);

    /// <summary>What is wrong with these options, or null.</summary>
    internal string? Problem()
    {
        if (PingInterval <= TimeSpan.Zero || PingTimeout <= TimeSpan.Zero)
        {
            return "EngineIOOptions: PingInterval and PingTimeout must be positive.";
        }
        if (MaxPayload <= 0)
        {
            return "EngineIOOptions: MaxPayload must be positive.";
        }
        if (UpgradeTimeout <= TimeSpan.Zero)
        {
            return "EngineIOOptions: UpgradeTimeout must be positive.";
        }
        if (MaxBufferedBytes <= 0)
        {
            return "EngineIOOptions: MaxBufferedBytes must be positive.";
        }
        if (WriteTimeout <= TimeSpan.Zero || WriteTimeout > MaxWriteTimeout)
        {
            return $"EngineIOOptions: WriteTimeout must be positive and at most {MaxWriteTimeout.TotalDays:0} days.";
        }
        if (MaxConnectionsPerAddress < 0)
        {
            return "EngineIOOptions: MaxConnectionsPerAddress must be 0 or more (null or 0: no limit).";
        }
        if (MaxHandshakesPerSecondPerAddress < 0 || MaxHandshakesPerSecondPerAddress > 1_000_000)
        {
            return "EngineIOOptions: MaxHandshakesPerSecondPerAddress must be between 0 and 1,000,000 (null or 0: no limit).";
        }
        if ((Transports & EngineIOTransports.All) == 0)
        {
            return "EngineIOOptions: at least one transport must be enabled.";
        }
        return null;
    }

    internal void Validate()
    {
        if (Problem() is { } problem)
        {
            throw new InvalidOperationException(problem);
        }
    }
}

/// <summary>
/// The cookie carrying the session id on the handshake response (Node's <c>cookie</c> option). It is marked
/// <c>Secure</c> when the handshake came over HTTPS.
/// </summary>
public sealed class EngineIOCookieOptions
{
    /// <summary>The cookie name; <c>io</c> by default.</summary>
    public string Name { get; set; } = "io";
    /// <summary>The cookie path; <c>/</c> by default.</summary>
    public string Path { get; set; } = "/";
    /// <summary>Whether the cookie is hidden from scripts (<c>HttpOnly</c>); true by default.</summary>
    public bool HttpOnly { get; set; } = true;
    /// <summary>The cookie's <c>SameSite</c> attribute; <see cref="SameSiteMode.Lax"/> by default.</summary>
    public SameSiteMode SameSite { get; set; } = SameSiteMode.Lax;
}

/// <summary>
/// CORS headers (Node's <c>cors</c> option): added to the endpoint's polling responses and WebSocket handshakes
/// when the request's Origin is allowed. <c>OPTIONS</c> preflights are answered with 204.
/// </summary>
public sealed class EngineIOCorsOptions
{
    /// <summary>Allowed origins; "*" allows any. Empty allows none.</summary>
    public IList<string> Origins { get; } = new List<string>();

    /// <summary>Alternative to <see cref="Origins"/>: a predicate on the request's Origin header.</summary>
    public Func<string, bool>? IsOriginAllowed { get; set; }

    /// <summary>Sends Access-Control-Allow-Credentials (the origin is then echoed instead of "*").</summary>
    public bool Credentials { get; set; }

    /// <summary>Extra request headers a preflight may ask for (e.g. Authorization).</summary>
    public IList<string> AllowedHeaders { get; } = new List<string>();

    /// <summary>How long a browser may cache a preflight (Access-Control-Max-Age, in whole seconds); null sends no such header.</summary>
    public TimeSpan? MaxAge { get; set; }
}

/// <summary>The answer of <see cref="EngineIOOptions.AllowRequest"/>.</summary>
public readonly struct EngineIORequestDecision
{
    private EngineIORequestDecision(bool allowed, int statusCode, string? message)
    {
        IsAllowed = allowed;
        StatusCode = statusCode;
        Message = message;
    }

    /// <summary>Whether the handshake may proceed. False for <c>default(EngineIORequestDecision)</c> too, which is refused with 403.</summary>
    public bool IsAllowed { get; }
    /// <summary>The HTTP status of a refusal (4xx or 5xx); 0 for <see cref="Allow"/>.</summary>
    public int StatusCode { get; }
    /// <summary>The <c>message</c> of a refusal's JSON body; null for <see cref="Allow"/>.</summary>
    public string? Message { get; }

    /// <summary>Lets the handshake proceed.</summary>
    public static EngineIORequestDecision Allow { get; } = new(true, 0, null);

    /// <summary>Refuses the handshake with this status (403 by default, as Node) and a message for the JSON body.</summary>
    public static EngineIORequestDecision Refuse(string message = "Forbidden", int statusCode = 403)
    {
        if (statusCode is < 400 or > 599)
        {
            throw new ArgumentOutOfRangeException(nameof(statusCode), "A refusal needs a 4xx or 5xx status.");
        }
        return new(false, statusCode, message);
    }
}
