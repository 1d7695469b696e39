using System.Text.Json;
using Tessera.SocketIO.Internal.Parser;

namespace Tessera.SocketIO;

/// <summary>
/// The arguments of a received event or acknowledgement: JSON values, with binary attachments bound back
/// to their places. Pass a <see cref="SocketIOArgs"/> to <c>Emit</c> to relay the arguments unchanged.
/// </summary>
public sealed class SocketIOArgs
{
    private static readonly byte[][] NoBuffers = [];

    private readonly JsonElement _array;
    private readonly int _skip;
    private readonly JsonSerializerOptions _options;

    internal SocketIOArgs(JsonElement array, int skip, IReadOnlyList<byte[]>? buffers, JsonSerializerOptions options)
    {
        _array = array;
        _skip = skip;
        Buffers = buffers ?? NoBuffers;
        _options = options;
        Count = array.ValueKind == JsonValueKind.Array ? Math.Max(0, array.GetArrayLength() - skip) : 0;
    }

    /// <summary>For cluster adapters: arguments received from another node (a JSON array, placeholders for binary).</summary>
    public static SocketIOArgs Create(JsonElement array, IReadOnlyList<byte[]> buffers, JsonSerializerOptions options) =>
        new(array, 0, buffers, options);

    /// <summary>How many arguments there are (for an event, not counting its name).</summary>
    public int Count { get; }

    /// <summary>The raw JSON of argument <paramref name="index"/>; binary arguments appear as placeholders.</summary>
    public JsonElement this[int index]
    {
        get
        {
            ArgumentOutOfRangeException.ThrowIfNegative(index);
            ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, Count);
            return _array[index + _skip];
        }
    }

    /// <summary>Binary attachments of the packet, in order.</summary>
    public IReadOnlyList<byte[]> Buffers { get; }

    /// <summary>Deserialises argument <paramref name="index"/>; byte[] members bind to attachments.</summary>
    public T? Get<T>(int index)
    {
        var element = this[index];
        using (BinaryContext.UseIncoming(Buffers))
        {
            return Internal.Json.Deserialize<T>(element, _options);
        }
    }

    /// <summary>Argument <paramref name="index"/> with the packet's attachments, for relaying parts of it.</summary>
    public SocketIOValue GetValue(int index) => new(this[index], Buffers, _options);

    /// <summary>Argument <paramref name="index"/> if it is a binary attachment, else null.</summary>
    public byte[]? GetBytes(int index) =>
        index < Count && BinaryContext.TryGetPlaceholder(this[index], Buffers.Count, out var num) ? Buffers[num] : null;

    internal void WriteItems(Utf8JsonWriter writer)
    {
        for (var i = 0; i < Count; i++)
        {
            BinaryContext.WriteElement(writer, _array[i + _skip], Buffers);
        }
    }

    /// <summary>The arguments as a JSON array; binary arguments appear as placeholders.</summary>
    public override string ToString()
    {
        var parts = new string[Count];
        for (var i = 0; i < Count; i++)
        {
            parts[i] = this[i].GetRawText();
        }
        return "[" + string.Join(",", parts) + "]";
    }
}
