using System.Buffers;
using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;

namespace Tessera.EngineIO.Internal.WebSockets;

/// <summary>The server's side of the opening handshake (RFC 6455 §4.2.2): the 101 response.</summary>
internal static class UpgradeResponse
{
    /// <summary>Sec-WebSocket-Accept: base64(SHA-1(key + the RFC's GUID)), 28 ASCII bytes.</summary>
    public static void ComputeAccept(string key, Span<byte> destination)
    {
        ReadOnlySpan<byte> guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"u8;
        Span<byte> input = stackalloc byte[24 + 36];
        Encoding.ASCII.GetBytes(key, input);
        guid.CopyTo(input[24..]);
        Span<byte> hash = stackalloc byte[SHA1.HashSizeInBytes];
        // SHA-1 is what RFC 6455 prescribes here; it proves the server read the handshake, nothing more.
#pragma warning disable CA5350
        SHA1.HashData(input, hash);
#pragma warning restore CA5350
        Base64.EncodeToUtf8(hash, destination, out _, out _);
    }

    /// <summary>Writes "101 Switching Protocols" with the accept key, and a Set-Cookie line if one is given.</summary>
    public static void Write(IBufferWriter<byte> writer, string key, string? setCookie)
    {
        ReadOnlySpan<byte> head = "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: "u8;
        ReadOnlySpan<byte> cookie = "\r\nSet-Cookie: "u8;
        var length = head.Length + 28 + 4 + (setCookie is null ? 0 : cookie.Length + setCookie.Length);
        var span = writer.GetSpan(length);
        head.CopyTo(span);
        var at = head.Length;
        ComputeAccept(key, span.Slice(at, 28));
        at += 28;
        if (setCookie is not null)
        {
            cookie.CopyTo(span[at..]);
            at += cookie.Length;
            at += Encoding.ASCII.GetBytes(setCookie, span[at..]);
        }
        "\r\n\r\n"u8.CopyTo(span[at..]);
        writer.Advance(at + 4);
    }
}
