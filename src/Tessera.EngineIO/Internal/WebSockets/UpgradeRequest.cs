using System.Buffers;
using System.Buffers.Text;
using System.Text;
using Microsoft.Extensions.Primitives;

namespace Tessera.EngineIO.Internal.WebSockets;

/// <summary>
/// The head of an HTTP/1.1 WebSocket upgrade request (RFC 6455 §4.2.1), as the direct connection path reads it.
/// The parser is deliberately strict and narrow: anything it does not fully understand (another method or version,
/// percent-encoded or dot segments in the path, folded headers, a body, non-ASCII bytes) is not an upgrade request
/// to it, and the connection goes to Kestrel's HTTP stack, which gives the standard answer.
/// </summary>
internal sealed class UpgradeRequest
{
    /// <summary>Heads longer than this go to Kestrel (its own limit is 32 KB and it answers 431 past it).</summary>
    public const int MaxHeadLength = 8 * 1024;

    private const int MaxHeaders = 64;

    // Names and values seen in nearly every upgrade request: shared instead of allocated per connection.
    private static readonly string[] KnownNames =
    [
        "Host", "Connection", "Upgrade", "Sec-WebSocket-Key", "Sec-WebSocket-Version", "Sec-WebSocket-Extensions",
        "Sec-WebSocket-Protocol", "User-Agent", "Origin", "Cookie", "Authorization", "Accept", "Accept-Encoding",
        "Accept-Language", "Cache-Control", "Pragma", "X-Forwarded-For", "X-Forwarded-Proto",
    ];

    private static readonly string[] KnownValues = ["Upgrade", "upgrade", "websocket", "13", "no-cache", "*/*", "gzip, deflate, br", "keep-alive, Upgrade"];

    private UpgradeRequest(string path, string queryString, List<KeyValuePair<string, StringValues>> headers, string key, bool offersExtensions)
    {
        Path = path;
        QueryString = queryString;
        Headers = headers;
        Key = key;
        OffersExtensions = offersExtensions;
    }

    /// <summary>The decoded path (the parser only takes paths that need no decoding).</summary>
    public string Path { get; }

    /// <summary>The raw query string, without the '?'.</summary>
    public string QueryString { get; }

    /// <summary>Headers in arrival order; repeated names merged as ASP.NET Core does.</summary>
    public List<KeyValuePair<string, StringValues>> Headers { get; }

    /// <summary>The Sec-WebSocket-Key (24 base64 characters).</summary>
    public string Key { get; }

    /// <summary>Whether the client offered extensions (permessage-deflate); this path negotiates none.</summary>
    public bool OffersExtensions { get; }

    /// <summary>
    /// Finds the end of the head (the blank line). Returns the length including the final CRLF CRLF, or -1 if it
    /// is not there yet.
    /// </summary>
    public static int FindHeadLength(in ReadOnlySequence<byte> buffer)
    {
        var reader = new SequenceReader<byte>(buffer);
        return reader.TryReadTo(out ReadOnlySequence<byte> head, "\r\n\r\n"u8, advancePastDelimiter: true)
            ? (int)Math.Min(head.Length + 4, int.MaxValue)
            : -1;
    }

    /// <summary>Parses a complete head (ending in CRLF CRLF). Null when it is not a plain WebSocket upgrade GET.</summary>
    public static UpgradeRequest? TryParse(ReadOnlySpan<byte> head)
    {
        if (head.Length > MaxHeadLength || !head.EndsWith("\r\n\r\n"u8) || !Ascii.IsValid(head))
        {
            return null;
        }
        var lineEnd = head.IndexOf("\r\n"u8);
        if (!TryParseRequestLine(head[..lineEnd], out var path, out var query))
        {
            return null;
        }
        var rest = head[(lineEnd + 2)..];
        var headers = new List<KeyValuePair<string, StringValues>>(8);
        string? key = null;
        bool upgrade = false, connectionUpgrade = false, version = false, host = false, extensions = false;
        while (true)
        {
            lineEnd = rest.IndexOf("\r\n"u8);
            var line = rest[..lineEnd];
            rest = rest[(lineEnd + 2)..];
            if (line.IsEmpty)
            {
                break;
            }
            if (headers.Count == MaxHeaders || !TrySplitHeader(line, out var name, out var value))
            {
                return null;
            }
            var nameString = Intern(name, KnownNames, ignoreCase: true);
            var valueString = Intern(value, KnownValues, ignoreCase: false);
            switch (nameString)
            {
                case "Host":
                    if (host)
                    {
                        return null;
                    }
                    host = true;
                    break;
                case "Upgrade":
                    upgrade |= ContainsToken(value, "websocket"u8);
                    break;
                case "Connection":
                    connectionUpgrade |= ContainsToken(value, "upgrade"u8);
                    break;
                case "Sec-WebSocket-Version":
                    version = value.SequenceEqual("13"u8);
                    break;
                case "Sec-WebSocket-Key":
                    if (key is not null || !IsValidKey(value))
                    {
                        return null;
                    }
                    key = valueString;
                    break;
                case "Sec-WebSocket-Extensions":
                    extensions = true;
                    break;
                default:
                    // A body (or a smuggling attempt) has no place in an upgrade request: let Kestrel judge it.
                    if (Ascii.EqualsIgnoreCase(name, "Content-Length"u8) && !value.SequenceEqual("0"u8))
                    {
                        return null;
                    }
                    if (Ascii.EqualsIgnoreCase(name, "Transfer-Encoding"u8))
                    {
                        return null;
                    }
                    break;
            }
            Add(headers, nameString, valueString);
        }
        if (!host || !upgrade || !connectionUpgrade || !version || key is null)
        {
            return null;
        }
        return new UpgradeRequest(path, query, headers, key, extensions);
    }

    private static bool TryParseRequestLine(ReadOnlySpan<byte> line, out string path, out string query)
    {
        path = query = "";
        if (!line.StartsWith("GET /"u8) || !line.EndsWith(" HTTP/1.1"u8))
        {
            return false;
        }
        var target = line[4..^9];
        // Control characters, spaces, percent-encoding, fragments and dot segments are Kestrel's to handle.
        var queryStart = target.IndexOf((byte)'?');
        var pathPart = queryStart < 0 ? target : target[..queryStart];
        if (pathPart.IndexOfAny("% #\\"u8) >= 0 || pathPart.IndexOf("/."u8) >= 0 || pathPart.IndexOf("//"u8) >= 0)
        {
            return false;
        }
        var queryPart = queryStart < 0 ? [] : target[(queryStart + 1)..];
        foreach (var b in target)
        {
            if (b <= 0x20 || b == 0x7F)
            {
                return false;
            }
        }
        if (queryPart.IndexOf((byte)'#') >= 0)
        {
            return false;
        }
        path = Encoding.ASCII.GetString(pathPart);
        query = Encoding.ASCII.GetString(queryPart);
        return true;
    }

    private static bool TrySplitHeader(ReadOnlySpan<byte> line, out ReadOnlySpan<byte> name, out ReadOnlySpan<byte> value)
    {
        value = default;
        var colon = line.IndexOf((byte)':');
        name = colon > 0 ? line[..colon] : default;
        if (colon <= 0)
        {
            return false;
        }
        foreach (var b in name)
        {
            // RFC 9110 token characters; this also refuses folded lines, which start with a space or tab.
            if (!IsTokenChar(b))
            {
                return false;
            }
        }
        value = line[(colon + 1)..].Trim(" \t"u8);
        foreach (var b in value)
        {
            if ((b < 0x20 && b != (byte)'\t') || b == 0x7F)
            {
                return false;
            }
        }
        return true;
    }

    private static bool IsTokenChar(byte b) =>
        b is (>= (byte)'a' and <= (byte)'z') or (>= (byte)'A' and <= (byte)'Z') or (>= (byte)'0' and <= (byte)'9')
        || "!#$%&'*+-.^_`|~"u8.Contains(b);

    /// <summary>Whether a comma-separated header value lists <paramref name="token"/> (case-insensitive).</summary>
    private static bool ContainsToken(ReadOnlySpan<byte> value, ReadOnlySpan<byte> token)
    {
        foreach (var range in value.Split((byte)','))
        {
            if (Ascii.EqualsIgnoreCase(value[range].Trim(" \t"u8), token))
            {
                return true;
            }
        }
        return false;
    }

    private static bool IsValidKey(ReadOnlySpan<byte> value)
    {
        Span<byte> decoded = stackalloc byte[18];
        return value.Length == 24
            && Base64.DecodeFromUtf8(value, decoded, out _, out var written) == OperationStatus.Done
            && written == 16;
    }

    private static string Intern(ReadOnlySpan<byte> bytes, string[] known, bool ignoreCase)
    {
        foreach (var candidate in known)
        {
            if (candidate.Length == bytes.Length && (ignoreCase
                ? Ascii.EqualsIgnoreCase(bytes, candidate)
                : Ascii.Equals(bytes, candidate)))
            {
                return candidate;
            }
        }
        return Encoding.ASCII.GetString(bytes);
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
