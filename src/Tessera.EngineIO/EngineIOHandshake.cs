using System.Net;
using System.Security.Claims;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features.Authentication;
using Tessera.EngineIO.Internal;
using Microsoft.Extensions.Primitives;

namespace Tessera.EngineIO;

/// <summary>
/// What the handshake request carried. Copied out of the <see cref="HttpContext"/>, which ASP.NET Core recycles
/// once the request ends.
/// </summary>
public sealed class EngineIOHandshake
{
    internal EngineIOHandshake(HttpContext context)
    {
        var request = context.Request;
        Headers = new CompactDictionary(request.Headers, request.Headers.Count, StringComparison.OrdinalIgnoreCase);
        Query = new CompactDictionary(request.Query, request.Query.Count, StringComparison.Ordinal);
        RemoteAddress = context.Connection.RemoteIpAddress;
        RemotePort = context.Connection.RemotePort;
        Path = request.PathBase.Add(request.Path).Value ?? "/";
        IsSecure = request.IsHttps;
        Time = DateTimeOffset.UtcNow;
        // Read through the feature: HttpContext.User would allocate an empty principal for every anonymous request.
        _user = context.Features.Get<IHttpAuthenticationFeature>()?.User;
    }

    /// <summary>A WebSocket handshake read by the direct connection path (no HttpContext, no authentication middleware).</summary>
    internal EngineIOHandshake(List<KeyValuePair<string, StringValues>> headers, Dictionary<string, StringValues> query, EndPoint? remote, string path, bool isSecure)
    {
        Headers = new CompactDictionary(headers, headers.Count, StringComparison.OrdinalIgnoreCase);
        Query = new CompactDictionary(query.Select(Intern), query.Count, StringComparison.Ordinal);
        if (remote is IPEndPoint ip)
        {
            RemoteAddress = ip.Address;
            RemotePort = ip.Port;
        }
        Path = path;
        IsSecure = isSecure;
        Time = DateTimeOffset.UtcNow;
    }

    private static readonly string[] KnownQueryStrings = ["EIO", "4", "transport", "websocket", "polling", "t"];

    /// <summary>Every session's query has EIO=4&amp;transport=…: shared strings rather than copies per session.</summary>
    private static KeyValuePair<string, StringValues> Intern(KeyValuePair<string, StringValues> pair)
    {
        var key = Array.Find(KnownQueryStrings, k => k == pair.Key) ?? pair.Key;
        var value = pair.Value.Count == 1 && Array.Find(KnownQueryStrings, k => k == pair.Value[0]) is { } known
            ? new StringValues(known)
            : pair.Value;
        return new(key, value);
    }

    private ClaimsPrincipal? _user;

    /// <summary>Request headers, case-insensitive.</summary>
    public IReadOnlyDictionary<string, StringValues> Headers { get; }

    /// <summary>Query string parameters of the handshake request.</summary>
    public IReadOnlyDictionary<string, StringValues> Query { get; }

    /// <summary>The client's IP address, or null when the connection does not report one.</summary>
    public IPAddress? RemoteAddress { get; }

    /// <summary>The client's TCP port, or 0 when the connection does not report one.</summary>
    public int RemotePort { get; }

    /// <summary>The request path, without the query string (which may carry secrets such as tokens).</summary>
    public string Path { get; }

    /// <summary>Whether the handshake came over HTTPS (TLS).</summary>
    public bool IsSecure { get; }

    /// <summary>When the server received the handshake, in UTC.</summary>
    public DateTimeOffset Time { get; }

    /// <summary>The user ASP.NET Core authentication attached to the handshake request, if any.</summary>
    public ClaimsPrincipal User => _user ??= new ClaimsPrincipal(new ClaimsIdentity());
}
