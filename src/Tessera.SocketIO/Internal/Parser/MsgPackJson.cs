using System.Buffers;
using System.Globalization;
using System.Text.Json;
using MessagePack;

namespace Tessera.SocketIO.Internal.Parser;

/// <summary>
/// Pure conversion between Socket.IO payloads as Tessera holds them (JSON with binary placeholders plus
/// attachments) and MessagePack as Node's adapters send them (notepack.io: binary inline as bin values).
/// </summary>
internal static class MsgPackJson
{
    /// <summary>A payload as a SocketIOPacket holds it: UTF-8 JSON (empty: nil) and attachments.</summary>
    public static void Write(ref MessagePackWriter writer, ReadOnlyMemory<byte> json, IReadOnlyList<ReadOnlyMemory<byte>> attachments)
    {
        if (json.IsEmpty)
        {
            writer.WriteNil();
            return;
        }
        // MessagePack needs each map's and array's length first: a DOM of the JSON gives them.
        using var document = JsonDocument.Parse(json);
        Write(ref writer, document.RootElement, attachments);
    }

    /// <summary>
    /// A Socket.IO packet as Node's msgpack users write it, <c>{type, data?, nsp, id?}</c> (socket.io-msgpack-parser, and the
    /// Redis adapter's broadcasts): what notepack.io makes of the packet object Node's server builds.
    /// </summary>
    public static void WritePacket(ref MessagePackWriter writer, int type, string nsp, JsonElement data, IReadOnlyList<ReadOnlyMemory<byte>> attachments, long id = -1)
    {
        var hasData = data.ValueKind != JsonValueKind.Undefined;
        writer.WriteMapHeader(2 + (hasData ? 1 : 0) + (id >= 0 ? 1 : 0));
        writer.Write("type");
        writer.Write(type);
        if (hasData)
        {
            writer.Write("data");
            Write(ref writer, data, attachments);
        }
        writer.Write("nsp");
        writer.Write(nsp);
        if (id >= 0)
        {
            writer.Write("id");
            writer.Write(id);
        }
    }

    public static void Write(ref MessagePackWriter writer, JsonElement element, IReadOnlyList<byte[]> attachments) =>
        Write(ref writer, element, Array.ConvertAll(attachments.ToArray(), static a => (ReadOnlyMemory<byte>)a));

    public static void Write(ref MessagePackWriter writer, JsonElement element, IReadOnlyList<ReadOnlyMemory<byte>> attachments)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                if (IsPlaceholder(element, attachments.Count, out var num))
                {
                    writer.Write(attachments[num].Span);
                    return;
                }
                var count = 0;
                foreach (var _ in element.EnumerateObject())
                {
                    count++;
                }
                writer.WriteMapHeader(count);
                foreach (var property in element.EnumerateObject())
                {
                    writer.Write(property.Name);
                    Write(ref writer, property.Value, attachments);
                }
                return;
            case JsonValueKind.Array:
                writer.WriteArrayHeader(element.GetArrayLength());
                foreach (var item in element.EnumerateArray())
                {
                    Write(ref writer, item, attachments);
                }
                return;
            case JsonValueKind.String:
                writer.Write(element.GetString());
                return;
            case JsonValueKind.Number:
                // JavaScript has one number type: integers travel as msgpack ints, the rest as float64.
                if (element.TryGetInt64(out var integer))
                {
                    writer.Write(integer);
                }
                else
                {
                    writer.Write(element.GetDouble());
                }
                return;
            case JsonValueKind.True:
                writer.Write(true);
                return;
            case JsonValueKind.False:
                writer.Write(false);
                return;
            default:
                writer.WriteNil();
                return;
        }
    }

    /// <summary>Reads one value; bin values become placeholders, their bytes appended to <paramref name="attachments"/>.</summary>
    public static void Read(ref MessagePackReader reader, Utf8JsonWriter writer, List<byte[]> attachments, int depth = 0)
    {
        switch (reader.NextMessagePackType)
        {
            case MessagePackType.Nil:
                reader.ReadNil();
                writer.WriteNullValue();
                return;
            case MessagePackType.Boolean:
                writer.WriteBooleanValue(reader.ReadBoolean());
                return;
            case MessagePackType.Integer:
                if (reader.NextCode == MessagePackCode.UInt64)
                {
                    writer.WriteNumberValue(reader.ReadUInt64());
                }
                else
                {
                    writer.WriteNumberValue(reader.ReadInt64());
                }
                return;
            case MessagePackType.Float:
                var number = reader.ReadDouble();
                if (double.IsFinite(number))
                {
                    writer.WriteNumberValue(number);
                }
                else
                {
                    writer.WriteNullValue();
                }
                return;
            case MessagePackType.String:
                writer.WriteStringValue(reader.ReadString());
                return;
            case MessagePackType.Binary:
                var bytes = reader.ReadBytes();
                writer.WriteStartObject();
                writer.WriteBoolean("_placeholder", true);
                writer.WriteNumber("num", attachments.Count);
                writer.WriteEndObject();
                attachments.Add(bytes?.ToArray() ?? []);
                return;
            case MessagePackType.Array:
                ThrowIfTooDeep(depth);
                var length = reader.ReadArrayHeader();
                writer.WriteStartArray();
                for (var i = 0; i < length; i++)
                {
                    Read(ref reader, writer, attachments, depth + 1);
                }
                writer.WriteEndArray();
                return;
            case MessagePackType.Map:
                ThrowIfTooDeep(depth);
                var entries = reader.ReadMapHeader();
                writer.WriteStartObject();
                for (var i = 0; i < entries; i++)
                {
                    var key = reader.NextMessagePackType == MessagePackType.String
                        ? reader.ReadString()!
                        : ReadKeyAsText(ref reader);
                    writer.WritePropertyName(key);
                    Read(ref reader, writer, attachments, depth + 1);
                }
                writer.WriteEndObject();
                return;
            default:
                // notepack's extensions (undefined, Date) have no JSON form: null, as JSON.stringify would give.
                reader.Skip();
                writer.WriteNullValue();
                return;
        }
    }

    /// <summary>
    /// At most <see cref="MaxDepth"/> arrays and maps inside one another: JsonDocument's own limit, as ReadElement
    /// parses what Read writes (one more level made it throw a JsonException there instead).
    /// </summary>
    private static void ThrowIfTooDeep(int depth)
    {
        if (depth >= MaxDepth)
        {
            throw new MessagePackSerializationException("Nesting too deep.");
        }
    }

    private const int MaxDepth = 64;

    private static string ReadKeyAsText(ref MessagePackReader reader) => reader.NextMessagePackType switch
    {
        // A uint64 past long.MaxValue would overflow ReadInt64 (an OverflowException nothing catches).
        MessagePackType.Integer when reader.NextCode == MessagePackCode.UInt64 => reader.ReadUInt64().ToString(CultureInfo.InvariantCulture),
        MessagePackType.Integer => reader.ReadInt64().ToString(CultureInfo.InvariantCulture),
        _ => SkipKey(ref reader),
    };

    private static string SkipKey(ref MessagePackReader reader)
    {
        reader.Skip();
        return "?";
    }

    /// <summary>Reads one value into a JsonElement (placeholders for binary).</summary>
    public static JsonElement ReadElement(ref MessagePackReader reader, List<byte[]> attachments)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        try
        {
            using var json = new Utf8JsonWriter(buffer);
            Read(ref reader, json, attachments);
        }
        catch (ArgumentOutOfRangeException ex)
        {
            // MessagePackReader takes a str32/bin32/ext32 length of 2^31 or more as a negative int and fails to
            // slice it: a length past the end of the message, malformed like any other.
            throw new MessagePackSerializationException("A length past the end of the message.", ex);
        }
        return JsonDocument.Parse(buffer.WrittenMemory).RootElement.Clone();
    }

    private static bool IsPlaceholder(JsonElement element, int count, out int num)
    {
        num = -1;
        // TryGetInt32 throws on anything but a number: {"_placeholder":true,"num":"0"} is plain data, as in Node.
        return element.TryGetProperty("_placeholder", out var flag) && flag.ValueKind == JsonValueKind.True
            && element.TryGetProperty("num", out var n) && n.ValueKind == JsonValueKind.Number && n.TryGetInt32(out num)
            && num >= 0 && num < count;
    }
}
