using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.Primitives;
using Tessera.Auth;
using Tessera.Auth.Internal;
using Tessera.EngineIO;
using Tessera.SocketIO;
using Tessera.SocketIO.Internal.Parser;
using static Tessera.Fuzz.FuzzInput;

namespace Tessera.Fuzz;

/// <summary>
/// Token-source extraction (TokenSources.Find): where a handshake's token comes from, over a handshake built
/// from fuzzed headers, query and CONNECT auth payload, as the direct path builds one (EngineIOHandshake from a
/// header list and a parsed query; SocketIOHandshake with the auth object).
/// </summary>
/// <remarks>
/// Input: byte 0: bit 0 AllowQueryToken, bit 1 a custom cookie name. Then lines (LF): "Name: value" headers (Latin-1,
/// as Kestrel reads them) up to a blank line; one line of query string; the rest is the CONNECT packet's auth JSON.
/// </remarks>
public static class TokenSourcesTarget
{
    public static void Run(byte[] input)
    {
        if (input.Length == 0)
        {
            return;
        }
        var options = new JwtAuthenticationOptions
        {
            AllowQueryToken = (input[0] & 1) != 0,
            CookieName = (input[0] & 2) != 0 ? "tessera-at" : "access_token",
        };
        var rest = input.AsSpan(1);
        var headers = new List<KeyValuePair<string, StringValues>>();
        while (true)
        {
            var end = rest.IndexOf((byte)'\n');
            var line = end < 0 ? rest : rest[..end];
            rest = end < 0 ? [] : rest[(end + 1)..];
            if (line.IsEmpty)
            {
                break;
            }
            var colon = line.IndexOf((byte)':');
            if (colon > 0)
            {
                Add(headers, Encoding.Latin1.GetString(line[..colon]), Encoding.Latin1.GetString(line[(colon + 1)..]).Trim());
            }
        }
        var queryEnd = rest.IndexOf((byte)'\n');
        var queryString = Encoding.Latin1.GetString(queryEnd < 0 ? rest : rest[..queryEnd]);
        var json = queryEnd < 0 ? [] : rest[(queryEnd + 1)..];
        var query = QueryHelpers.ParseQuery(queryString);

        // The auth object reaches the handshake as a CONNECT packet's data ("0" + JSON), decoded by PacketDecoder;
        // a CONNECT it refuses closes the connection before any authentication.
        var connect = PacketDecoder.Decode([(byte)'0', .. json], out _);
        if (connect is null)
        {
            return;
        }
        var auth = connect.Data;

        var engine = new EngineIOHandshake(headers, query, remote: null, "/socket.io/", isSecure: false);
        var handshake = new SocketIOHandshake(engine, auth);
        var token = TokenSources.Find(handshake, options);
        Check(token is null || token.Length > 0, "an empty token found");
        if (token is null)
        {
            return;
        }
        // The token came from one of the places TokenSources reads, and the first of them that has one.
        var fromAuth = auth.ValueKind == JsonValueKind.Object && auth.TryGetProperty("token", out var t) && t.ValueKind == JsonValueKind.String
            ? TokenSources.StripBearer(t.GetString()) : null;
        if (fromAuth is { Length: > 0 })
        {
            Check(token == fromAuth && token == token.Trim(), "auth.token was not preferred, or not trimmed");
            return;
        }
        var sources = new List<string>();
        if (handshake.Headers.TryGetValue("Authorization", out var authorization))
        {
            sources.Add(authorization.ToString());
        }
        if (handshake.Headers.TryGetValue("Cookie", out var cookies))
        {
            sources.AddRange(cookies.Select(c => Uri.UnescapeDataString(c ?? "")));
            sources.AddRange(cookies.Select(c => c ?? ""));
        }
        if (options.AllowQueryToken && handshake.Query.TryGetValue("token", out var fromQuery))
        {
            sources.Add(fromQuery.ToString());
        }
        Check(sources.Any(s => s.Contains(token, StringComparison.Ordinal)), "a token that is in no header, cookie or query parameter");
    }

    private static void Add(List<KeyValuePair<string, StringValues>> headers, string name, string value)
    {
        for (var i = 0; i < headers.Count; i++)
        {
            if (string.Equals(headers[i].Key, name, StringComparison.OrdinalIgnoreCase))
            {
                headers[i] = new(headers[i].Key, StringValues.Concat(headers[i].Value, value));
                return;
            }
        }
        headers.Add(new(name, value));
    }
}
