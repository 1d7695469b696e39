using System.Text;
using System.Text.Json;
using System.Text.Unicode;

namespace Tessera.SocketIO.Internal.Parser;

/// <summary>
/// Pure Socket.IO v5 decoder: <c>&lt;type&gt;[&lt;attachments&gt;-][&lt;nsp&gt;,][&lt;id&gt;][&lt;json&gt;]</c>.
/// Validation follows Node's socket.io-parser (isPayloadValid), plus limits on namespace length and ack ids.
/// </summary>
internal static class PacketDecoder
{
    public const int MaxAttachments = 10;
    public const int MaxNamespaceLength = 256;

    // Largest integer a JavaScript client can represent exactly.
    public const long MaxAckId = 9_007_199_254_740_991;

    private static readonly string[] ReservedEvents =
        ["connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"];

    /// <summary>Decodes a text packet. On failure returns null with a short reason (never the client's bytes).</summary>
    public static Packet? Decode(ReadOnlySpan<byte> text, out string? error)
    {
        error = null;
        if (text.IsEmpty || text[0] < (byte)'0' || text[0] > (byte)'6')
        {
            error = "unknown packet type";
            return null;
        }
        var type = (PacketType)(text[0] - (byte)'0');
        var pos = 1;

        var attachments = 0;
        if (type is PacketType.BinaryEvent or PacketType.BinaryAck)
        {
            var dash = text[pos..].IndexOf((byte)'-');
            if (dash <= 0 || dash > 2 || !TryParseDigits(text.Slice(pos, dash), out var count) || count < 1 || count > MaxAttachments)
            {
                error = "illegal attachments";
                return null;
            }
            attachments = (int)count;
            pos += dash + 1;
        }

        var nsp = "/";
        if (pos < text.Length && text[pos] == (byte)'/')
        {
            var rest = text[pos..];
            var comma = rest.IndexOf((byte)',');
            var nspBytes = comma < 0 ? rest : rest[..comma];
            if (nspBytes.Length > MaxNamespaceLength)
            {
                error = "namespace too long";
                return null;
            }
            nsp = NamespaceName(nspBytes);
            if (nsp is null)
            {
                error = "invalid namespace";
                return null;
            }
            pos += comma < 0 ? rest.Length : comma + 1;
        }

        long id = -1;
        var digits = 0;
        while (pos + digits < text.Length && IsDigit(text[pos + digits]))
        {
            digits++;
        }
        if (digits > 0)
        {
            if (digits > 16 || !TryParseDigits(text.Slice(pos, digits), out id) || id > MaxAckId)
            {
                error = "invalid ack id";
                return null;
            }
            pos += digits;
        }

        JsonElement data = default;
        if (pos < text.Length)
        {
            // Utf8JsonReader checks the structure, not the UTF-8 inside strings: invalid bytes there would make
            // every later GetString() throw (the event name below, auth.token). Text WebSocket messages are
            // validated (1007), a polling body is not.
            if (!Utf8.IsValid(text[pos..]) || !TryParseJson(text[pos..], out data))
            {
                error = "invalid payload";
                return null;
            }
            if (!IsPayloadValid(type, data))
            {
                error = "invalid payload";
                return null;
            }
        }
        else if (type is PacketType.Event or PacketType.BinaryEvent)
        {
            // An event needs at least its name (Node would dispatch an event named undefined).
            error = "invalid payload";
            return null;
        }

        return new Packet { Type = type, Namespace = nsp, Id = id, Data = data, Attachments = attachments };
    }

    private static bool IsDigit(byte b) => b is >= (byte)'0' and <= (byte)'9';

    private static bool TryParseDigits(ReadOnlySpan<byte> digits, out long value)
    {
        value = 0;
        if (digits.IsEmpty)
        {
            return false;
        }
        foreach (var b in digits)
        {
            if (!IsDigit(b))
            {
                return false;
            }
            value = value * 10 + (b - (byte)'0');
        }
        return true;
    }

    private static string? NamespaceName(ReadOnlySpan<byte> bytes)
    {
        try
        {
            return new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(bytes);
        }
        catch (DecoderFallbackException)
        {
            return null;
        }
    }

    private static bool TryParseJson(ReadOnlySpan<byte> json, out JsonElement element)
    {
        var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = 64 });
        try
        {
            // ParseValue copies the bytes: the element outlives the transport's buffer.
            element = JsonElement.ParseValue(ref reader);
            if (reader.Read())
            {
                return false;
            }
            return true;
        }
        catch (JsonException)
        {
            element = default;
            return false;
        }
    }

    public static bool IsPayloadValid(PacketType type, JsonElement data) => type switch
    {
        PacketType.Connect => data.ValueKind == JsonValueKind.Object,
        PacketType.Disconnect => false,
        PacketType.ConnectError => data.ValueKind is JsonValueKind.Object or JsonValueKind.String,
        PacketType.Event or PacketType.BinaryEvent => IsEventPayload(data),
        PacketType.Ack or PacketType.BinaryAck => data.ValueKind == JsonValueKind.Array,
        _ => false,
    };

    private static bool IsEventPayload(JsonElement data)
    {
        if (data.ValueKind != JsonValueKind.Array || data.GetArrayLength() == 0)
        {
            return false;
        }
        var first = data[0];
        return first.ValueKind == JsonValueKind.Number
            || (first.ValueKind == JsonValueKind.String && Array.IndexOf(ReservedEvents, first.GetString()) < 0);
    }

    public static bool IsReservedEvent(string name) => Array.IndexOf(ReservedEvents, name) >= 0;
}
