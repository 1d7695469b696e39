using System.Text.Json;

namespace Tessera.Redis.Internal;

/// <summary>
/// The JSON of cluster messages, written member by member rather than serialised from anonymous objects: no reflection
/// (Native AOT), and the members in the order Node's adapter writes them. Default escaping, as JsonSerializer's.
/// (Written by Tessera.SocketIO's <c>Internal.Json.Write</c>; as a JsonElement: <c>Internal.Json.Element</c>.)
/// </summary>
internal static class JsonMessage
{
    public static byte[] Bytes<T>(T state, Action<Utf8JsonWriter, T> write) => SocketIO.Internal.Json.Write(state, write).WrittenSpan.ToArray();

    public static void Strings(Utf8JsonWriter writer, string name, IEnumerable<string> values)
    {
        writer.WriteStartArray(name);
        foreach (var value in values)
        {
            writer.WriteStringValue(value);
        }
        writer.WriteEndArray();
    }
}
