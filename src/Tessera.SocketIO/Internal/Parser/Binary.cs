using System.Text.Json;
using System.Text.Json.Serialization;

namespace Tessera.SocketIO.Internal.Parser;

/// <summary>
/// Binary attachments while a payload is (de)serialised. System.Text.Json runs synchronously on one thread,
/// so the attachment list of the packet at hand can live in a thread-static slot that the converters reach.
/// </summary>
internal static class BinaryContext
{
    [ThreadStatic]
    private static List<ReadOnlyMemory<byte>>? t_outgoing;

    [ThreadStatic]
    private static IReadOnlyList<byte[]>? t_incoming;

    public static List<ReadOnlyMemory<byte>>? Outgoing => t_outgoing;

    public static IReadOnlyList<byte[]>? Incoming => t_incoming;

    public static void BeginOutgoing() => (t_outgoing ??= new List<ReadOnlyMemory<byte>>()).Clear();

    /// <summary>Takes the attachments collected since <see cref="BeginOutgoing"/>; null if none.</summary>
    public static ReadOnlyMemory<byte>[]? EndOutgoing()
    {
        var list = t_outgoing;
        if (list is null || list.Count == 0)
        {
            return null;
        }
        var result = list.ToArray();
        list.Clear();
        return result;
    }

    public static void WritePlaceholder(Utf8JsonWriter writer, ReadOnlyMemory<byte> data)
    {
        var list = t_outgoing ??= new List<ReadOnlyMemory<byte>>();
        writer.WriteStartObject();
        writer.WriteBoolean("_placeholder", true);
        writer.WriteNumber("num", list.Count);
        writer.WriteEndObject();
        list.Add(data);
    }

    public static IDisposable UseIncoming(IReadOnlyList<byte[]>? buffers)
    {
        var previous = t_incoming;
        t_incoming = buffers;
        return new Restore(previous);
    }

    private sealed class Restore(IReadOnlyList<byte[]>? previous) : IDisposable
    {
        public void Dispose() => t_incoming = previous;
    }

    /// <summary>True for <c>{"_placeholder":true,"num":n}</c> with n within the packet's attachments.</summary>
    public static bool TryGetPlaceholder(JsonElement element, int attachmentCount, out int num)
    {
        num = -1;
        if (element.ValueKind != JsonValueKind.Object
            || !element.TryGetProperty("_placeholder", out var flag) || flag.ValueKind != JsonValueKind.True
            || !element.TryGetProperty("num", out var n) || n.ValueKind != JsonValueKind.Number || !n.TryGetInt32(out num))
        {
            return false;
        }
        return num >= 0 && num < attachmentCount;
    }

    /// <summary>Writes a received value back out, re-attaching its binary parts (for echoes and relays).</summary>
    public static void WriteElement(Utf8JsonWriter writer, JsonElement element, IReadOnlyList<byte[]>? buffers)
    {
        if (buffers is null || buffers.Count == 0)
        {
            element.WriteTo(writer);
            return;
        }
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                if (TryGetPlaceholder(element, buffers.Count, out var num))
                {
                    WritePlaceholder(writer, buffers[num]);
                    return;
                }
                writer.WriteStartObject();
                foreach (var property in element.EnumerateObject())
                {
                    writer.WritePropertyName(property.Name);
                    WriteElement(writer, property.Value, buffers);
                }
                writer.WriteEndObject();
                return;
            case JsonValueKind.Array:
                writer.WriteStartArray();
                foreach (var item in element.EnumerateArray())
                {
                    WriteElement(writer, item, buffers);
                }
                writer.WriteEndArray();
                return;
            default:
                element.WriteTo(writer);
                return;
        }
    }
}

/// <summary>byte[] travels as a Socket.IO binary attachment, wherever it sits in a payload.</summary>
internal sealed class ByteArrayAttachmentConverter : JsonConverter<byte[]>
{
    public override byte[]? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        switch (reader.TokenType)
        {
            case JsonTokenType.Null:
                return null;
            case JsonTokenType.String:
                return reader.GetBytesFromBase64();
            case JsonTokenType.StartObject:
                var element = JsonElement.ParseValue(ref reader);
                var buffers = BinaryContext.Incoming;
                if (buffers is not null && BinaryContext.TryGetPlaceholder(element, buffers.Count, out var num))
                {
                    return buffers[num];
                }
                throw new JsonException("Expected a binary attachment.");
            default:
                throw new JsonException("Expected a binary attachment.");
        }
    }

    public override void Write(Utf8JsonWriter writer, byte[] value, JsonSerializerOptions options) =>
        BinaryContext.WritePlaceholder(writer, value);
}

internal sealed class MemoryAttachmentConverter : JsonConverter<ReadOnlyMemory<byte>>
{
    public override ReadOnlyMemory<byte> Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        new ByteArrayAttachmentConverter().Read(ref reader, typeof(byte[]), options) ?? ReadOnlyMemory<byte>.Empty;

    public override void Write(Utf8JsonWriter writer, ReadOnlyMemory<byte> value, JsonSerializerOptions options) =>
        BinaryContext.WritePlaceholder(writer, value);
}
