using System.Buffers;
using System.Text.Json;

namespace Tessera.Redis.Internal;

/// <summary>
/// The JSON of cluster messages, written member by member rather than serialised from anonymous objects: no reflection
/// (Native AOT), and the members in the order Node's adapter writes them. Default escaping, as JsonSerializer's.
/// (As a JsonElement: Tessera.SocketIO's <c>Internal.Json.Element</c>.)
/// </summary>
internal static class JsonMessage
{
    public static byte[] Bytes<T>(T state, Action<Utf8JsonWriter, T> write) => Write(state, write).WrittenSpan.ToArray();

    public static void Strings(Utf8JsonWriter writer, string name, IEnumerable<string> values)
    {
        writer.WriteStartArray(name);
        foreach (var value in values)
        {
            writer.WriteStringValue(value);
        }
        writer.WriteEndArray();
    }

    private static ArrayBufferWriter<byte> Write<T>(T state, Action<Utf8JsonWriter, T> write)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            write(writer, state);
        }
        return buffer;
    }
}
