using System.Text.Json;
using System.Text.Json.Serialization;
using Tessera.SocketIO.Internal.Parser;

namespace Tessera.SocketIO;

/// <summary>
/// A part of a received payload together with the packet's binary attachments, so it can be relayed
/// (passed to <c>Emit</c>) with its binary intact, or bound to a type.
/// </summary>
[JsonConverter(typeof(SocketIOValueConverter))]
public readonly struct SocketIOValue
{
    private readonly JsonSerializerOptions? _options;

    internal SocketIOValue(JsonElement element, IReadOnlyList<byte[]> buffers, JsonSerializerOptions options)
    {
        Element = element;
        Buffers = buffers;
        _options = options;
    }

    /// <summary>The raw JSON; binary parts appear as placeholders.</summary>
    public JsonElement Element { get; }

    /// <summary>The binary attachments of the packet this value came from, which the placeholders in <see cref="Element"/> refer to.</summary>
    public IReadOnlyList<byte[]> Buffers { get; }

    /// <summary>The JSON kind of <see cref="Element"/>; a binary attachment is an <see cref="JsonValueKind.Object"/> (its placeholder).</summary>
    public JsonValueKind ValueKind => Element.ValueKind;

    /// <summary>Property <paramref name="name"/> of this JSON object, with the same attachments.</summary>
    /// <exception cref="InvalidOperationException">The value is not a JSON object.</exception>
    /// <exception cref="KeyNotFoundException">The object has no such property.</exception>
    public SocketIOValue GetProperty(string name) => new(Element.GetProperty(name), Buffers, _options!);

    /// <summary>Looks up property <paramref name="name"/>, with the same attachments; false when the value is not a JSON object or has no such property.</summary>
    public bool TryGetProperty(string name, out SocketIOValue value)
    {
        if (Element.ValueKind == JsonValueKind.Object && Element.TryGetProperty(name, out var property))
        {
            value = new SocketIOValue(property, Buffers, _options!);
            return true;
        }
        value = default;
        return false;
    }

    /// <summary>The bytes if this value is a binary attachment, else null.</summary>
    public byte[]? GetBytes() =>
        BinaryContext.TryGetPlaceholder(Element, Buffers.Count, out var num) ? Buffers[num] : null;

    /// <summary>Deserialises the value with the serializer options it was received with (the server's <see cref="SocketIOOptions.SerializerOptions"/>); <c>byte[]</c> members bind to attachments.</summary>
    /// <exception cref="JsonException">The JSON does not fit <typeparamref name="T"/>.</exception>
    public T? Get<T>()
    {
        using (BinaryContext.UseIncoming(Buffers))
        {
            return Internal.Json.Deserialize<T>(Element, _options);
        }
    }

    internal void WriteTo(Utf8JsonWriter writer) => BinaryContext.WriteElement(writer, Element, Buffers);

    /// <summary>The raw JSON text of <see cref="Element"/>.</summary>
    public override string ToString() => Element.GetRawText();
}

/// <summary>Writes a relayed value anywhere in a payload, binary parts re-attached to the outgoing packet.</summary>
internal sealed class SocketIOValueConverter : JsonConverter<SocketIOValue>
{
    public override SocketIOValue Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        new(JsonElement.ParseValue(ref reader), BinaryContext.Incoming ?? [], options);

    public override void Write(Utf8JsonWriter writer, SocketIOValue value, JsonSerializerOptions options) => value.WriteTo(writer);
}
