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

    private static readonly JsonElement EmptyObject = JsonDocument.Parse("{}").RootElement;

    public IReadOnlyDictionary<string, StringValues> Headers => _engine.Headers;

    public IReadOnlyDictionary<string, StringValues> Query => _engine.Query;

    /// <summary>The CONNECT packet's payload (<c>auth</c> on the client), <c>{}</c> if none.</summary>
    public JsonElement Auth { get; }

    public IPAddress? Address => _engine.RemoteAddress;

    public bool Secure => _engine.IsSecure;

    /// <summary>The request path (never the query string, which may carry tokens).</summary>
    public string Url => _engine.Path;

    /// <summary>When the namespace was joined.</summary>
    public DateTimeOffset Time { get; }

    /// <summary>The Engine.IO handshake underneath.</summary>
    public EngineIOHandshake Engine => _engine;
}
