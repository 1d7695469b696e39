using System.Buffers;
using Tessera.EngineIO.Internal;
using static Tessera.Fuzz.FuzzInput;

namespace Tessera.Fuzz;

/// <summary>
/// The Engine.IO v3 payload decoders (text, then the same bytes as a binary payload), as EngineIOSocket.OnPayloadAsync
/// reads a POST body; what they accept is written back with PayloadV3.Write in both encodings and read again.
/// </summary>
public static class PayloadV3Target
{
    public static void Run(byte[] input)
    {
        Read(input, binary: false);
        Read(input, binary: true);
    }

    private static void Read(byte[] input, bool binary)
    {
        ReadOnlyMemory<byte> rest = input;
        var frames = new List<Frame>();
        var before = rest.Length;
        bool malformed;
        while (binary ? PayloadV3.TryReadBinary(ref rest, out var segment, out malformed) : PayloadV3.TryReadText(ref rest, out segment, out malformed))
        {
            Check(rest.Length < before, "the payload reader does not advance");
            before = rest.Length;
            if (segment.IsBase64)
            {
                var decoded = new byte[PacketParser.MaxDecodedLength(segment.Data.Length)];
                var length = PacketParser.DecodeBinarySegment(segment.Data.Span, decoded);
                if (length < 0)
                {
                    return;
                }
                frames.Add(new Frame((byte[])[4, .. decoded.AsSpan(0, length)], IsBinary: true));
            }
            else if (segment.IsBinary)
            {
                frames.Add(new Frame((byte[])[4, .. segment.Data.Span], IsBinary: true));
            }
            else
            {
                Check(!segment.Data.IsEmpty, "an empty text packet was accepted");
                if (!System.Text.Unicode.Utf8.IsValid(segment.Data.Span))
                {
                    // Only the binary encoding can carry such bytes; the text packet handler refuses them later.
                    Check(binary, "the text encoding accepted invalid UTF-8");
                    return;
                }
                frames.Add(new Frame(segment.Data.ToArray(), IsBinary: false));
            }
        }
        Check(malformed || rest.IsEmpty, "the payload reader stopped before the end without a parse error");
        RoundTrip(frames.ToArray(), binaryEncoding: false);
        RoundTrip(frames.ToArray(), binaryEncoding: true);
    }

    private static void RoundTrip(Frame[] frames, bool binaryEncoding)
    {
        var writer = new ArrayBufferWriter<byte>();
        PayloadV3.Write(writer, frames, binaryEncoding);
        Check(writer.WrittenCount == PayloadV3.Length(frames, binaryEncoding), "Length differs from what Write wrote");
        ReadOnlyMemory<byte> payload = writer.WrittenMemory.ToArray();
        var i = 0;
        bool malformed;
        while (binaryEncoding ? PayloadV3.TryReadBinary(ref payload, out var segment, out malformed) : PayloadV3.TryReadText(ref payload, out segment, out malformed))
        {
            Check(i < frames.Length, "the written payload holds more packets than were written");
            var frame = frames[i++];
            byte[] data = segment.IsBase64 ? Convert.FromBase64String(System.Text.Encoding.ASCII.GetString(segment.Data.Span)) : segment.Data.ToArray();
            Check(segment.IsBinary == frame.IsBinary, "a packet changed kind");
            Check(data.AsSpan().SequenceEqual(frame.IsBinary ? frame.Data.Span[1..] : frame.Data.Span), "a packet does not round-trip");
        }
        Check(!malformed && i == frames.Length, "the written payload does not read back whole");
    }
}
