using System.Globalization;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;

namespace Tessera.EngineIO.Internal;

/// <summary>CORS for the polling transport, configured by <see cref="EngineIOCorsOptions"/>.</summary>
internal static class Cors
{
    private static bool IsAllowed(EngineIOCorsOptions cors, string origin)
    {
        if (cors.IsOriginAllowed is { } predicate)
        {
            return predicate(origin);
        }
        foreach (var allowed in cors.Origins)
        {
            if (allowed == "*" || string.Equals(allowed, origin, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>Adds the CORS response headers when the request's origin is allowed.</summary>
    public static bool Apply(HttpContext context, EngineIOCorsOptions cors)
    {
        var origin = context.Request.Headers.Origin.ToString();
        var headers = context.Response.Headers;
        headers.Append("Vary", "Origin");
        if (origin.Length == 0 || !IsAllowed(cors, origin))
        {
            return false;
        }
        // With credentials the origin must be echoed; "*" is refused by browsers then.
        var anyOrigin = !cors.Credentials && cors.IsOriginAllowed is null && cors.Origins.Contains("*");
        headers.AccessControlAllowOrigin = anyOrigin ? "*" : origin;
        if (cors.Credentials)
        {
            headers.AccessControlAllowCredentials = "true";
        }
        return true;
    }

    public static void WritePreflight(HttpContext context, EngineIOCorsOptions cors)
    {
        var response = context.Response;
        response.StatusCode = StatusCodes.Status204NoContent;
        response.ContentLength = 0;
        if (!Apply(context, cors))
        {
            return;
        }
        var headers = response.Headers;
        headers.AccessControlAllowMethods = "GET,POST";
        var requested = context.Request.Headers.AccessControlRequestHeaders;
        if (cors.AllowedHeaders.Count > 0)
        {
            headers.AccessControlAllowHeaders = string.Join(',', cors.AllowedHeaders);
        }
        else if (!StringValues.IsNullOrEmpty(requested))
        {
            // As the cors package Node uses: reflect what the browser asked for when nothing is configured.
            headers.AccessControlAllowHeaders = requested;
        }
        if (cors.MaxAge is { } maxAge)
        {
            headers.AccessControlMaxAge = ((long)maxAge.TotalSeconds).ToString(CultureInfo.InvariantCulture);
        }
    }
}
