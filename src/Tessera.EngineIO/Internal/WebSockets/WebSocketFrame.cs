using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace Tessera.EngineIO.Internal.WebSockets;

internal enum WebSocketOpcode : byte
{
    Continuation = 0x0,
    Text = 0x1,
    Binary = 0x2,
    Close = 0x8,
    Ping = 0x9,
    Pong = 0xA,
}

/// <summary>The header of one frame a client sent (RFC 6455 §5.2).</summary>
internal readonly record struct WebSocketFrameHeader(bool Fin, WebSocketOpcode Opcode, long PayloadLength, int HeaderLength, uint MaskKey)
{
    public long FrameLength => HeaderLength + PayloadLength;

    public bool IsControl => ((byte)Opcode & 0x8) != 0;
}

internal enum FrameParseStatus
{
    /// <summary>More bytes are needed to read the header.</summary>
    Incomplete,
    Ok,
    /// <summary>The header breaks RFC 6455 (unmasked, reserved bits, unknown opcode, bad control frame): close with 1002.</summary>
    ProtocolError,
    /// <summary>The payload is over the limit: close with 1009.</summary>
    TooLarge,
}

/// <summary>
/// The WebSocket frame codec of the direct connection path: parses client frame headers, unmasks payloads, and
/// writes the (unmasked) headers of server frames. Pure: no I/O, no allocation.
/// </summary>
internal static class WebSocketFrame
{
    /// <summary>The longest header a server frame needs: 2 bytes plus a 64-bit length.</summary>
    public const int MaxServerHeaderLength = 10;

    public static FrameParseStatus TryReadHeader(in ReadOnlySequence<byte> buffer, long maxPayload, out WebSocketFrameHeader header)
    {
        header = default;
        var available = (int)Math.Min(buffer.Length, 14);
        if (available < 2)
        {
            return FrameParseStatus.Incomplete;
        }
        var first = buffer.FirstSpan;
        if (first.Length >= available)
        {
            return TryReadHeader(first[..available], maxPayload, out header);
        }
        Span<byte> head = stackalloc byte[14];
        buffer.Slice(0, available).CopyTo(head);
        return TryReadHeader(head[..available], maxPayload, out header);
    }

    public static FrameParseStatus TryReadHeader(ReadOnlySpan<byte> head, long maxPayload, out WebSocketFrameHeader header)
    {
        header = default;
        if (head.Length < 2)
        {
            return FrameParseStatus.Incomplete;
        }
        var b0 = head[0];
        var b1 = head[1];
        var fin = (b0 & 0x80) != 0;
        var opcode = (WebSocketOpcode)(b0 & 0x0F);
        // No extension is negotiated on this path, so every reserved bit must be clear; a client frame must be masked.
        if ((b0 & 0x70) != 0 || (b1 & 0x80) == 0)
        {
            return FrameParseStatus.ProtocolError;
        }
        var isControl = ((byte)opcode & 0x8) != 0;
        if (opcode is not (WebSocketOpcode.Continuation or WebSocketOpcode.Text or WebSocketOpcode.Binary
            or WebSocketOpcode.Close or WebSocketOpcode.Ping or WebSocketOpcode.Pong))
        {
            return FrameParseStatus.ProtocolError;
        }
        long length = b1 & 0x7F;
        var offset = 2;
        if (length == 126)
        {
            if (head.Length < 4)
            {
                return FrameParseStatus.Incomplete;
            }
            length = BinaryPrimitives.ReadUInt16BigEndian(head[2..]);
            offset = 4;
        }
        else if (length == 127)
        {
            if (head.Length < 10)
            {
                return FrameParseStatus.Incomplete;
            }
            var wide = BinaryPrimitives.ReadUInt64BigEndian(head[2..]);
            if (wide > long.MaxValue)
            {
                return FrameParseStatus.ProtocolError;
            }
            length = (long)wide;
            offset = 10;
        }
        if (isControl && (!fin || length > 125))
        {
            return FrameParseStatus.ProtocolError;
        }
        if (length > maxPayload)
        {
            return FrameParseStatus.TooLarge;
        }
        if (head.Length < offset + 4)
        {
            return FrameParseStatus.Incomplete;
        }
        // The key is kept in wire order: byte i of the payload is XORed with byte (i % 4) of the key.
        var mask = MemoryMarshal.Read<uint>(head[offset..]);
        header = new WebSocketFrameHeader(fin, opcode, length, offset + 4, mask);
        return FrameParseStatus.Ok;
    }

    /// <summary>
    /// Unmasks <paramref name="data"/> in place. <paramref name="offset"/> is the position of data[0] within the
    /// frame's payload, so a payload can be unmasked piece by piece.
    /// </summary>
    public static void Unmask(Span<byte> data, uint mask, long offset)
    {
        if (mask == 0 || data.IsEmpty)
        {
            return;
        }
        // Rotate the key so that it starts at this piece's position.
        var shift = (int)(offset & 3) * 8;
        var key = shift == 0 ? mask : BitConverter.IsLittleEndian
            ? (mask >> shift) | (mask << (32 - shift))
            : (mask << shift) | (mask >> (32 - shift));
        var wide = ((ulong)key << 32) | key;
        var longs = MemoryMarshal.Cast<byte, ulong>(data);
        for (var j = 0; j < longs.Length; j++)
        {
            longs[j] ^= wide;
        }
        var i = longs.Length * 8;
        Span<byte> keyBytes = stackalloc byte[4];
        MemoryMarshal.Write(keyBytes, in key);
        for (; i < data.Length; i++)
        {
            data[i] ^= keyBytes[i & 3];
        }
    }

    /// <summary>Writes the header of an unmasked, final server frame; returns its length.</summary>
    public static int WriteHeader(Span<byte> destination, WebSocketOpcode opcode, long payloadLength)
    {
        destination[0] = (byte)(0x80 | (byte)opcode);
        if (payloadLength < 126)
        {
            destination[1] = (byte)payloadLength;
            return 2;
        }
        if (payloadLength <= ushort.MaxValue)
        {
            destination[1] = 126;
            BinaryPrimitives.WriteUInt16BigEndian(destination[2..], (ushort)payloadLength);
            return 4;
        }
        destination[1] = 127;
        BinaryPrimitives.WriteUInt64BigEndian(destination[2..], (ulong)payloadLength);
        return 10;
    }

    public static int HeaderLength(long payloadLength) => payloadLength < 126 ? 2 : payloadLength <= ushort.MaxValue ? 4 : 10;

    /// <summary>Writes one complete server frame to <paramref name="writer"/>.</summary>
    public static void Write(IBufferWriter<byte> writer, WebSocketOpcode opcode, ReadOnlySpan<byte> payload)
    {
        var headerLength = HeaderLength(payload.Length);
        var span = writer.GetSpan(headerLength + payload.Length);
        WriteHeader(span, opcode, payload.Length);
        payload.CopyTo(span[headerLength..]);
        writer.Advance(headerLength + payload.Length);
    }

    /// <summary>A close frame's payload: the status code, big-endian (no reason text).</summary>
    public static void WriteClose(IBufferWriter<byte> writer, ushort status)
    {
        Span<byte> code = stackalloc byte[2];
        BinaryPrimitives.WriteUInt16BigEndian(code, status);
        Write(writer, WebSocketOpcode.Close, code);
    }

    /// <summary>
    /// Checks a close frame's payload (RFC 6455 §5.5.1, §7.4): empty, or a valid status code and UTF-8 reason.
    /// </summary>
    public static bool IsValidClosePayload(ReadOnlySpan<byte> payload)
    {
        if (payload.IsEmpty)
        {
            return true;
        }
        if (payload.Length == 1)
        {
            return false;
        }
        var code = BinaryPrimitives.ReadUInt16BigEndian(payload);
        var valid = code is (>= 1000 and <= 1003) or (>= 1007 and <= 1014) or (>= 3000 and <= 4999);
        return valid && System.Text.Unicode.Utf8.IsValid(payload[2..]);
    }
}
