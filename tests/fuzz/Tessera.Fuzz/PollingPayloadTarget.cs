using System.Buffers;
using Tessera.EngineIO.Internal;
using static Tessera.Fuzz.FuzzInput;

namespace Tessera.Fuzz;

/// <summary>
/// The polling payload decoder: a POST body cut into packets at 0x1E, 'b' + base64 for binary, as
/// EngineIOSocket.OnPayloadAsync reads it; then the packets written back as a payload and read again.
/// </summary>
public static class PollingPayloadTarget
{
    public static void Run(byte[] input)
    {
        ReadOnlyMemory<byte> rest = input;
        var frames = new List<Frame>();
        long covered = 0;
        var segments = 0;
        var stopped = false;
        var before = rest.Length;
        while (PacketParser.TryReadPayloadSegment(ref rest, out var segment))
        {
            // Every round takes the segment and the separator after it, if there is one.
            var taken = before - rest.Length;
            before = rest.Length;
            Check(taken == segment.Length || taken == segment.Length + 1, "the payload reader took other than a segment and its separator");
            Check(taken > 0 && ++segments <= input.Length, "the payload reader does not advance");
            Check(segment.Span.IndexOf(PacketParser.RecordSeparator) < 0, "a segment holds a record separator");
            covered += taken;
            if (!segment.IsEmpty && segment.Span[0] == PacketParser.BinaryMarker)
            {
                var base64 = segment[1..];
                var max = PacketParser.MaxDecodedLength(base64.Length);
                Check(max >= 0 && max <= base64.Length / 4 * 3, "the decode buffer is out of proportion to the base64");
                var buffer = ArrayPool<byte>.Shared.Rent(Math.Max(1, max));
                try
                {
                    var length = PacketParser.DecodeBinarySegment(base64.Span, buffer);
                    if (length < 0)
                    {
                        // Malformed: the server closes the session here.
                        stopped = true;
                        break;
                    }
                    Check(length <= max, "decoded more than MaxDecodedLength");
                    var decoded = buffer.AsSpan(0, length).ToArray();
                    // The canonical encoding of what was decoded decodes to the same bytes.
                    var canonical = System.Text.Encoding.ASCII.GetBytes(Convert.ToBase64String(decoded));
                    var again = new byte[PacketParser.MaxDecodedLength(canonical.Length)];
                    var againLength = PacketParser.DecodeBinarySegment(canonical, again);
                    Check(againLength == length && again.AsSpan(0, length).SequenceEqual(decoded), "base64 does not round-trip");
                    frames.Add(new Frame(decoded, IsBinary: true));
                }
                finally
                {
                    ArrayPool<byte>.Shared.Return(buffer);
                }
                continue;
            }
            if (!PacketParser.TryParseText(segment.Span, out var type, out var data))
            {
                // An empty segment or an unknown type: the session is closed as a parse error.
                stopped = true;
                break;
            }
            Check(type is >= PacketType.Open and <= PacketType.Noop, "a text packet of an unknown type");
            Check(data.Length == segment.Length - 1, "a text packet's data is not the rest of the segment");
            frames.Add(new Frame(segment.ToArray(), IsBinary: false));
            if (type is PacketType.Close or PacketType.Ping)
            {
                // The session ends (close) or is refused (a client ping): the rest of the payload is not read.
                stopped = true;
                break;
            }
        }
        Check(covered + rest.Length == input.Length, "the segments and the rest are not the payload");
        Check(stopped || rest.IsEmpty, "the payload reader stopped before the end");
        RoundTrip(frames);
    }

    /// <summary>What was read, written back as a payload (as a GET response is) and read again, is the same.</summary>
    private static void RoundTrip(List<Frame> frames)
    {
        if (frames.Count == 0)
        {
            return;
        }
        var span = frames.ToArray();
        var writer = new ArrayBufferWriter<byte>();
        PacketParser.WritePayload(writer, span);
        Check(writer.WrittenCount == PacketParser.PayloadLength(span), "PayloadLength differs from what WritePayload wrote");
        ReadOnlyMemory<byte> payload = writer.WrittenMemory.ToArray();
        var i = 0;
        while (PacketParser.TryReadPayloadSegment(ref payload, out var segment))
        {
            Check(i < span.Length, "the written payload holds more packets than were written");
            var frame = span[i++];
            if (frame.IsBinary)
            {
                Check(segment.Span[0] == PacketParser.BinaryMarker, "a binary packet was not written as 'b' + base64");
                var decoded = new byte[PacketParser.MaxDecodedLength(segment.Length - 1)];
                var length = PacketParser.DecodeBinarySegment(segment.Span[1..], decoded);
                Check(length >= 0 && decoded.AsSpan(0, length).SequenceEqual(frame.Data.Span), "a binary packet does not round-trip");
            }
            else
            {
                Check(segment.Span.SequenceEqual(frame.Data.Span), "a text packet does not round-trip");
            }
        }
        Check(i == span.Length, "the written payload holds fewer packets than were written");
    }
}
