using System.Net;
using System.Text.Json;
using Microsoft.Extensions.Primitives;
using Tessera.EngineIO;

namespace Tessera.SocketIO;

/// <summary>The handshake of a socket: the Engine.IO request plus the namespace CONNECT's auth payload.</summary>
public sealed class SocketIOHandshake
{
    private readonly EngineIOHandshake _engine;

    internal SocketIOHandshake(EngineIOHandshake engine, JsonElement auth)
    {
        _engine = engine;
        Auth = auth.ValueKind == JsonValueKind.Object ? auth : EmptyObject;
        Time = DateTimeOffset.UtcNow;
    }

    /// <summary><c>{}</c>: the auth of a CONNECT that carried none.</summary>
    internal static readonly JsonElement EmptyObject = JsonDocument.Parse("{}").RootElement;

    /// <summary>The handshake request's headers (case-insensitive names), as Node's <c>socket.handshake.headers</c>.</summary>
    public IReadOnlyDictionary<string, StringValues> Headers => _engine.Headers;

    /// <summary>The handshake request's query string parameters (case-sensitive names), as Node's <c>socket.handshake.query</c>.</summary>
    public IReadOnlyDictionary<string, StringValues> Query => _engine.Query;

    /// <summary>The CONNECT packet's payload (<c>auth</c> on the client), <c>{}</c> if none.</summary>
    public JsonElement Auth { get; }

    /// <summary>
    /// The client's IP address, or null if unknown: <c>HttpContext.Connection.RemoteIpAddress</c> (after any
    /// forwarded-headers middleware), or the TCP peer for WebSockets taken by the direct Kestrel path.
    /// </summary>
    public IPAddress? Address => _engine.RemoteAddress;

    /// <summary>Whether the handshake request came over HTTPS (<c>HttpRequest.IsHttps</c>, or TLS on the connection for the direct Kestrel path).</summary>
    public bool Secure => _engine.IsSecure;

    /// <summary>The request path (never the query string, which may carry tokens).</summary>
    public string Url => _engine.Path;

    /// <summary>When the namespace was joined.</summary>
    public DateTimeOffset Time { get; }

    /// <summary>The Engine.IO handshake underneath.</summary>
    public EngineIOHandshake Engine => _engine;
}
