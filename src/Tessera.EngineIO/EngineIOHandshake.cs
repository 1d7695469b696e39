using System.Net;
using System.Security.Claims;
using Microsoft.AspNetCore.Http;
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
        var headers = new Dictionary<string, StringValues>(request.Headers.Count, StringComparer.OrdinalIgnoreCase);
        foreach (var header in request.Headers)
        {
            headers[header.Key] = header.Value;
        }
        Headers = headers;
        var query = new Dictionary<string, StringValues>(request.Query.Count, StringComparer.Ordinal);
        foreach (var item in request.Query)
        {
            query[item.Key] = item.Value;
        }
        Query = query;
        RemoteAddress = context.Connection.RemoteIpAddress;
        RemotePort = context.Connection.RemotePort;
        Path = request.PathBase.Add(request.Path).Value ?? "/";
        IsSecure = request.IsHttps;
        Time = DateTimeOffset.UtcNow;
        User = context.User;
    }

    /// <summary>Request headers, case-insensitive.</summary>
    public IReadOnlyDictionary<string, StringValues> Headers { get; }

    /// <summary>Query string parameters of the handshake request.</summary>
    public IReadOnlyDictionary<string, StringValues> Query { get; }

    public IPAddress? RemoteAddress { get; }

    public int RemotePort { get; }

    /// <summary>The request path, without the query string (which may carry secrets such as tokens).</summary>
    public string Path { get; }

    public bool IsSecure { get; }

    public DateTimeOffset Time { get; }

    /// <summary>The user ASP.NET Core authentication attached to the handshake request, if any.</summary>
    public ClaimsPrincipal User { get; }
}
