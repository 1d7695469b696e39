using System.Buffers;
using System.Text;

namespace Tessera.EngineIO;

/// <summary>
/// A message received from a client: UTF-8 text or binary. <see cref="Data"/> is only valid until the
/// handler's returned task completes; copy it to keep it.
/// </summary>
public readonly struct EngineIOMessage
{
    /// <summary>Creates a message over <paramref name="data"/>, which is referenced, not copied.</summary>
    /// <param name="data">The message body: UTF-8 text without the packet type, or the binary bytes.</param>
    /// <param name="isBinary">Whether the message is binary rather than text.</param>
    public EngineIOMessage(ReadOnlyMemory<byte> data, bool isBinary)
    {
        Data = data;
        IsBinary = isBinary;
    }

    /// <summary>The message body: UTF-8 text without the Engine.IO packet type (<c>4</c>), or the binary bytes.</summary>
    public ReadOnlyMemory<byte> Data { get; }

    /// <summary>Whether the client sent binary (a binary WebSocket frame, or <c>b</c> + base64 over polling) rather than text.</summary>
    public bool IsBinary { get; }

    /// <summary>Decodes <see cref="Data"/> as UTF-8 into a new string.</summary>
    public string GetText() => Encoding.UTF8.GetString(Data.Span);
}

/// <summary>
/// A message ready to send, encoded once: the same instance may be sent to any number of sockets
/// (a broadcast is encoded once for all its recipients). Its bytes must not change after creation.
/// </summary>
public readonly struct EngineIOOutgoingMessage
{
    /// <summary>The Engine.IO "message" packet type, which starts every text message on the wire.</summary>
    public const byte TextPrefix = (byte)'4';

    private EngineIOOutgoingMessage(ReadOnlyMemory<byte> encoded, bool isBinary)
    {
        Encoded = encoded;
        IsBinary = isBinary;
    }

    /// <summary>For text: the packet including its leading '4'. For binary: the raw bytes.</summary>
    internal ReadOnlyMemory<byte> Encoded { get; }

    /// <summary>Whether the message is sent as binary rather than text.</summary>
    public bool IsBinary { get; }

    /// <summary>The message body: UTF-8 text without the packet type, or the binary bytes.</summary>
    public ReadOnlyMemory<byte> Body => IsBinary ? Encoded : Encoded[1..];

    /// <summary>Size of the message body in bytes (without the packet type).</summary>
    public int Length => IsBinary ? Encoded.Length : Encoded.Length - 1;

    /// <summary>A text message: <paramref name="text"/> encoded as UTF-8 behind <see cref="TextPrefix"/>.</summary>
    public static EngineIOOutgoingMessage Text(string text)
    {
        var bytes = new byte[1 + Encoding.UTF8.GetByteCount(text)];
        bytes[0] = TextPrefix;
        Encoding.UTF8.GetBytes(text, bytes.AsSpan(1));
        return new(bytes, false);
    }

    /// <summary>A text message from bytes already encoded as UTF-8; they are copied, not validated.</summary>
    public static EngineIOOutgoingMessage Text(ReadOnlySpan<byte> utf8)
    {
        var bytes = new byte[1 + utf8.Length];
        bytes[0] = TextPrefix;
        utf8.CopyTo(bytes.AsSpan(1));
        return new(bytes, false);
    }

    /// <summary>
    /// Wraps text that the caller encoded behind <see cref="TextPrefix"/> itself (see <see cref="WriteTextPrefix"/>),
    /// so an upper layer can serialise straight into the final buffer without a copy.
    /// </summary>
    public static EngineIOOutgoingMessage FromPrefixedText(ReadOnlyMemory<byte> prefixedUtf8)
    {
        if (prefixedUtf8.IsEmpty || prefixedUtf8.Span[0] != TextPrefix)
        {
            throw new ArgumentException("The buffer must start with the Engine.IO message prefix '4'.", nameof(prefixedUtf8));
        }
        return new(prefixedUtf8, false);
    }

    /// <summary>
    /// Writes <see cref="TextPrefix"/> to <paramref name="writer"/>, to be followed by the UTF-8 text and then passed
    /// to <see cref="FromPrefixedText"/>.
    /// </summary>
    /// <exception cref="ArgumentNullException"><paramref name="writer"/> is null.</exception>
    public static void WriteTextPrefix(IBufferWriter<byte> writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.GetSpan(1)[0] = TextPrefix;
        writer.Advance(1);
    }

    /// <summary>Binary message; the memory is referenced, not copied, and must not be modified afterwards.</summary>
    public static EngineIOOutgoingMessage Binary(ReadOnlyMemory<byte> data) => new(data, true);
}
