using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Tessera.EngineIO;
using Tessera.SocketIO.Internal.Parser;

namespace Tessera.SocketIO;

/// <summary>
/// Options of the Socket.IO server (Node's <c>new Server(opts)</c>), set with
/// <see cref="Microsoft.AspNetCore.Builder.SocketIOExtensions.AddSocketIO"/>; validated when the application starts.
/// </summary>
public sealed class SocketIOOptions
{
    /// <summary>How long a connection may stay without joining any namespace before it is closed (Node: 45 s).</summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(45);

    /// <summary>Default timeout of <c>EmitWithAckAsync</c> when none is given.</summary>
    public TimeSpan AckTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Creates each namespace's adapter (null: in-memory). Set by cluster adapters such as Redis.</summary>
    public Func<SocketIONamespace, ISocketIOAdapter>? AdapterFactory { get; set; }

    /// <summary>
    /// Connection state recovery (socket.io-client 4.6+): null (the default, as Node) keeps it off. On, the CONNECT reply
    /// carries <c>pid</c> and every event sent without an ack carries an offset as its last argument (Node's wire format).
    /// </summary>
    public ConnectionStateRecoveryOptions? ConnectionStateRecovery { get; set; }

    /// <summary>
    /// The wire format of packets (Node's <c>parser</c> option): <see cref="SocketIOParser.Default"/> (JSON, what the
    /// official clients use unless told otherwise), <see cref="SocketIOParser.MessagePack"/> for clients created with
    /// socket.io-msgpack-parser, or your own. Every client must use the same one.
    /// </summary>
    public SocketIOParser Parser { get; set; } = SocketIOParser.Default;

    /// <summary>Options of the Engine.IO layer underneath (timings, payload limit, CORS, allowRequest …).</summary>
    public EngineIOOptions EngineIO { get; } = new();

    /// <summary>
    /// Serialisation of event arguments. Defaults: camelCase, compact, and byte[] / ReadOnlyMemory&lt;byte&gt; as
    /// binary attachments anywhere in a payload.
    /// </summary>
    public JsonSerializerOptions SerializerOptions { get; set; } = CreateSerializerOptions();

    /// <summary>
    /// A new instance of the default <see cref="SerializerOptions"/>: <see cref="JsonSerializerDefaults.Web"/> (camelCase,
    /// case-insensitive reading), <c>&lt;</c> and non-ASCII characters left unescaped (as <c>JSON.stringify</c>), and
    /// <c>byte[]</c> / <c>ReadOnlyMemory&lt;byte&gt;</c> as binary attachments. Start from it to customise serialisation.
    /// </summary>
    public static JsonSerializerOptions CreateSerializerOptions()
    {
        var options = new JsonSerializerOptions(JsonSerializerDefaults.Web)
        {
            // As JSON.stringify: "<" and non-ASCII stay as they are.
            Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
            // Set rather than left null, so that an app can put its source-generated context first
            // (TypeInfoResolverChain.Insert(0, …), as Native AOT needs) and still serialise other types by reflection
            // where reflection is on; under Native AOT it is off and only the app's contexts resolve types.
            TypeInfoResolver = JsonSerializer.IsReflectionEnabledByDefault ? ReflectionResolver() : JsonTypeInfoResolver.Combine(),
        };
        options.Converters.Add(new ByteArrayAttachmentConverter());
        options.Converters.Add(new MemoryAttachmentConverter());
        return options;
    }

    // Reached only where reflection-based serialisation is on (the feature switch above), as ASP.NET Core's JsonOptions does.
    [System.Diagnostics.CodeAnalysis.UnconditionalSuppressMessage("Trimming", "IL2026", Justification = "Only called when JsonSerializer.IsReflectionEnabledByDefault.")]
    [System.Diagnostics.CodeAnalysis.UnconditionalSuppressMessage("AOT", "IL3050", Justification = "Only called when JsonSerializer.IsReflectionEnabledByDefault.")]
    private static DefaultJsonTypeInfoResolver ReflectionResolver() => new();

    /// <summary>What is wrong with these options, or null; nothing is changed.</summary>
    internal string? Problem()
    {
        if (ConnectTimeout <= TimeSpan.Zero)
        {
            return "SocketIOOptions: ConnectTimeout must be positive.";
        }
        if (AckTimeout <= TimeSpan.Zero)
        {
            return "SocketIOOptions: AckTimeout must be positive.";
        }
        if (Parser is null)
        {
            return "SocketIOOptions: Parser must not be null (SocketIOParser.Default is the JSON format).";
        }
        if (SerializerOptions is null)
        {
            return "SocketIOOptions: SerializerOptions must not be null.";
        }
        if (ConnectionStateRecovery is { } recovery && (recovery.MaxDisconnectionDuration <= TimeSpan.Zero || recovery.MaxBufferedEvents <= 0))
        {
            return "SocketIOOptions: ConnectionStateRecovery's MaxDisconnectionDuration and MaxBufferedEvents must be positive (null turns recovery off).";
        }
        // The Engine.IO options inside are checked by the endpoint MapSocketIO creates, before the app starts.
        return null;
    }

    /// <summary>Adds the attachment converters if the application replaced <see cref="SerializerOptions"/> without them.</summary>
    internal void EnsureAttachmentConverters()
    {
        if (!SerializerOptions.IsReadOnly && !SerializerOptions.Converters.OfType<ByteArrayAttachmentConverter>().Any())
        {
            SerializerOptions.Converters.Add(new ByteArrayAttachmentConverter());
            SerializerOptions.Converters.Add(new MemoryAttachmentConverter());
        }
    }
}
