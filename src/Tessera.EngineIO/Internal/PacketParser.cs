using System.Buffers;
using System.Buffers.Text;

namespace Tessera.EngineIO.Internal;

/// <summary>
/// Pure Engine.IO v4 codec: no I/O, no state. Text packets are a type digit followed by UTF-8 data;
/// a polling payload joins packets with the record separator 0x1E and carries binary as 'b' + base64.
/// </summary>
internal static class PacketParser
{
    public const byte RecordSeparator = 0x1E;
    public const byte BinaryMarker = (byte)'b';

    /// <summary>Splits a text packet into its type and data. False when the type digit is missing or unknown.</summary>
    public static bool TryParseText(ReadOnlySpan<byte> packet, out PacketType type, out ReadOnlySpan<byte> data)
    {
        if (packet.IsEmpty || packet[0] < (byte)'0' || packet[0] > (byte)'6')
        {
            type = default;
            data = default;
            return false;
        }
        type = (PacketType)(packet[0] - (byte)'0');
        data = packet[1..];
        return true;
    }

    /// <summary>
    /// Cuts the next packet off a polling payload; false once the payload is used up. Works on memory so the
    /// caller can await a handler between packets.
    /// </summary>
    public static bool TryReadPayloadSegment(ref ReadOnlyMemory<byte> payload, out ReadOnlyMemory<byte> segment)
    {
        if (payload.IsEmpty)
        {
            segment = default;
            return false;
        }
        var end = payload.Span.IndexOf(RecordSeparator);
        if (end < 0)
        {
            segment = payload;
            payload = default;
        }
        else
        {
            segment = payload[..end];
            payload = payload[(end + 1)..];
        }
        return true;
    }

    /// <summary>Decodes the base64 body of a 'b' segment into <paramref name="destination"/>; returns the byte count or -1.</summary>
    public static int DecodeBinarySegment(ReadOnlySpan<byte> base64, Span<byte> destination)
    {
        var status = Base64.DecodeFromUtf8(base64, destination, out var consumed, out var written);
        return status == OperationStatus.Done && consumed == base64.Length ? written : -1;
    }

    public static int MaxDecodedLength(int base64Length) => Base64.GetMaxDecodedFromUtf8Length(base64Length);

    /// <summary>Writes a batch of outgoing packets as one polling payload.</summary>
    public static void WritePayload(IBufferWriter<byte> writer, ReadOnlySpan<Frame> frames)
    {
        for (var i = 0; i < frames.Length; i++)
        {
            if (i > 0)
            {
                writer.GetSpan(1)[0] = RecordSeparator;
                writer.Advance(1);
            }
            WriteFrame(writer, frames[i]);
        }
    }

    private static void WriteFrame(IBufferWriter<byte> writer, in Frame frame)
    {
        var data = frame.Data.Span;
        if (!frame.IsBinary)
        {
            writer.Write(data);
            return;
        }
        var length = 1 + Base64.GetMaxEncodedToUtf8Length(data.Length);
        var span = writer.GetSpan(length);
        span[0] = BinaryMarker;
        Base64.EncodeToUtf8(data, span[1..], out _, out var written);
        writer.Advance(1 + written);
    }

    /// <summary>Length of <see cref="WritePayload"/>'s output, so a response can announce Content-Length.</summary>
    public static int PayloadLength(ReadOnlySpan<Frame> frames)
    {
        var total = frames.Length > 0 ? frames.Length - 1 : 0;
        foreach (ref readonly var f in frames)
        {
            total += f.IsBinary ? 1 + Base64.GetMaxEncodedToUtf8Length(f.Data.Length) : f.Data.Length;
        }
        return total;
    }
}
