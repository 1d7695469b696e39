using System.Buffers;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace Tessera.SocketIO.Internal;

/// <summary>
/// Serialisation of values of any type through the <see cref="JsonTypeInfo"/> the options' resolver gives, which is
/// what Native AOT can compile: there the resolver is the app's source-generated context (added to
/// <see cref="SocketIOOptions.SerializerOptions"/>), elsewhere reflection as before. Same output as
/// <c>JsonSerializer.Serialize(writer, value, value.GetType(), options)</c>.
/// </summary>
internal static class Json
{
    // For a value made without options (a default SocketIOValue, a log built without them): the default format.
    private static readonly JsonSerializerOptions Fallback = SocketIOOptions.CreateSerializerOptions();

    public static void Serialize(Utf8JsonWriter writer, object? value, JsonSerializerOptions? options) =>
        JsonSerializer.Serialize(writer, value, TypeInfo(value, options));

    public static JsonElement SerializeToElement(object? value, JsonSerializerOptions? options) =>
        JsonSerializer.SerializeToElement(value, TypeInfo(value, options));

    public static T? Deserialize<T>(JsonElement element, JsonSerializerOptions? options) =>
        element.Deserialize((JsonTypeInfo<T>)(options ?? Fallback).GetTypeInfo(typeof(T)));

    /// <summary>A JsonElement of what <paramref name="write"/> writes (JSON the libraries build themselves, member by member).</summary>
    public static JsonElement Element<T>(T state, Action<Utf8JsonWriter, T> write)
    {
        using var document = JsonDocument.Parse(Write(state, write).WrittenMemory);
        return document.RootElement.Clone();
    }

    /// <summary>What <paramref name="write"/> writes, as UTF-8 (default escaping, as JsonSerializer's).</summary>
    public static ArrayBufferWriter<byte> Write<T>(T state, Action<Utf8JsonWriter, T> write)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            write(writer, state);
        }
        return buffer;
    }

    private static JsonTypeInfo TypeInfo(object? value, JsonSerializerOptions? options) =>
        (options ?? Fallback).GetTypeInfo(value?.GetType() ?? typeof(object));
}
