using System.Text.Json;
using Microsoft.Net.Http.Headers;
using Tessera.SocketIO;

namespace Tessera.Auth.Internal;

/// <summary>
/// Where a handshake's token may come from, first found wins (an empty value counts as absent):
/// auth.token (with or without "Bearer "), the Authorization header, the access-token cookie, query token.
/// </summary>
internal static class TokenSources
{
    public static string? Find(SocketIOHandshake handshake, JwtAuthenticationOptions options)
    {
        if (handshake.Auth.ValueKind == JsonValueKind.Object
            && handshake.Auth.TryGetProperty("token", out var authToken)
            && authToken.ValueKind == JsonValueKind.String
            && StripBearer(authToken.GetString()) is { Length: > 0 } fromAuth)
        {
            return fromAuth;
        }
        if (handshake.Headers.TryGetValue("Authorization", out var authorization)
            && authorization.ToString() is { } header
            && header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase)
            && header[7..].Trim() is { Length: > 0 } fromHeader)
        {
            return fromHeader;
        }
        if (handshake.Headers.TryGetValue("Cookie", out var cookies)
            && CookieHeaderValue.TryParseList(cookies.Where(c => c is not null).Select(c => c!).ToList(), out var parsed))
        {
            foreach (var cookie in parsed)
            {
                if (cookie.Name.Equals(options.CookieName, StringComparison.Ordinal) && cookie.Value.Length > 0)
                {
                    return Uri.UnescapeDataString(cookie.Value.ToString());
                }
            }
        }
        if (options.AllowQueryToken
            && handshake.Query.TryGetValue("token", out var query)
            && query.ToString() is { Length: > 0 } fromQuery)
        {
            return fromQuery;
        }
        return null;
    }

    public static string? StripBearer(string? token)
    {
        if (token is null)
        {
            return null;
        }
        token = token.Trim();
        return token.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? token[7..].Trim() : token;
    }
}
