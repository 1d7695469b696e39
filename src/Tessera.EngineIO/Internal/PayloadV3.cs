using System.Buffers;
using System.Buffers.Text;
using System.Globalization;
using System.Text;

namespace Tessera.EngineIO.Internal;

/// <summary>
/// Pure Engine.IO v3 polling payload codec (Node's lib/parser-v3), no I/O. Two encodings:
/// <list type="bullet">
/// <item>text: <c>&lt;length&gt;:&lt;packet&gt;</c> repeated, the length counted in UTF-16 code units (JavaScript's
/// <c>string.length</c>), binary packets as <c>b&lt;type digit&gt;&lt;base64&gt;</c>;</item>
/// <item>binary (<c>application/octet-stream</c>, when the client did not ask for <c>b64</c> and the batch holds binary):
/// per packet <c>0</c> (string) or <c>1</c> (binary), the byte length as one byte per decimal digit, <c>255</c>, then
/// the bytes — a string packet as UTF-8, a binary one behind its type byte. In both encodings a string packet that
/// starts with <c>b</c> is binary in base64 (Node's decodePacket reads every string so).</item>
/// </list>
/// In a v3 session a binary frame already starts with its packet type byte (4), as the v3 WebSocket transport sends it.
/// </summary>
internal static class PayloadV3
{
    private const byte StringMarker = 0;
    private const byte BinaryMarker = 1;
    private const byte LengthEnd = 255;

    // A packet longer than this many decimal digits cannot exist (maxPayload is an int): Node's own bound is 310.
    private const int MaxLengthDigits = 10;

    /// <summary>One packet of a decoded payload: a text packet (type digit first), or binary (the message bytes only).</summary>
    public readonly record struct Segment(ReadOnlyMemory<byte> Data, bool IsBinary, bool IsBase64);

    /// <summary>Cuts the next packet off a text payload; false at its end, or with <paramref name="malformed"/> set.</summary>
    public static bool TryReadText(ref ReadOnlyMemory<byte> payload, out Segment segment, out bool malformed)
    {
        segment = default;
        malformed = false;
        if (payload.IsEmpty)
        {
            return false;
        }
        var span = payload.Span;
        var colon = span.IndexOf((byte)':');
        if (colon <= 0 || colon > MaxLengthDigits || !TryParseDigits(span[..colon], out var units))
        {
            malformed = true;
            return false;
        }
        var bytes = Utf8BytesForUtf16Units(span[(colon + 1)..], units);
        if (bytes < 0 || units == 0)
        {
            malformed = true;
            return false;
        }
        var packet = payload.Slice(colon + 1, bytes);
        payload = payload[(colon + 1 + bytes)..];
        return TryReadString(packet, out segment, out malformed);
    }

    /// <summary>A string packet: text, or <c>b&lt;type&gt;&lt;base64&gt;</c> (binary carried as text; Node's decodePacket reads it so in both encodings).</summary>
    private static bool TryReadString(ReadOnlyMemory<byte> packet, out Segment segment, out bool malformed)
    {
        malformed = false;
        if (packet.Span[0] != (byte)'b')
        {
            segment = new Segment(packet, IsBinary: false, IsBase64: false);
            return true;
        }
        if (packet.Length < 2 || packet.Span[1] != (byte)'4')
        {
            segment = default;
            malformed = true;
            return false;
        }
        segment = new Segment(packet[2..], IsBinary: true, IsBase64: true);
        return true;
    }

    /// <summary>Cuts the next packet off a binary payload; false at its end, or with <paramref name="malformed"/> set.</summary>
    public static bool TryReadBinary(ref ReadOnlyMemory<byte> payload, out Segment segment, out bool malformed)
    {
        segment = default;
        malformed = false;
        if (payload.IsEmpty)
        {
            return false;
        }
        var span = payload.Span;
        var kind = span[0];
        var end = span[1..].IndexOf(LengthEnd);
        if (kind > BinaryMarker || end <= 0 || end > MaxLengthDigits)
        {
            malformed = true;
            return false;
        }
        long length = 0;
        foreach (var digit in span.Slice(1, end))
        {
            if (digit > 9)
            {
                malformed = true;
                return false;
            }
            length = length * 10 + digit;
        }
        var start = 1 + end + 1;
        if (length == 0 || length > span.Length - start)
        {
            malformed = true;
            return false;
        }
        var packet = payload.Slice(start, (int)length);
        payload = payload[(start + (int)length)..];
        if (kind == StringMarker)
        {
            return TryReadString(packet, out segment, out malformed);
        }
        // The type byte comes first; only messages carry binary.
        if (packet.Span[0] != (byte)PacketType.Message)
        {
            malformed = true;
            return false;
        }
        segment = new Segment(packet[1..], IsBinary: true, IsBase64: false);
        return true;
    }

    /// <summary>Whether a batch goes out as a binary payload (the client takes binary and the batch holds some).</summary>
    public static bool UsesBinaryEncoding(ReadOnlySpan<Frame> frames, bool supportsBinary)
    {
        if (!supportsBinary)
        {
            return false;
        }
        foreach (ref readonly var frame in frames)
        {
            if (frame.IsBinary)
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>Length of <see cref="Write"/>'s output, so a response can announce Content-Length.</summary>
    public static int Length(ReadOnlySpan<Frame> frames, bool binaryEncoding)
    {
        var total = 0;
        foreach (ref readonly var frame in frames)
        {
            var body = BodyLength(frame, binaryEncoding);
            total += binaryEncoding ? 1 + DigitCount(body) + 1 + body : DigitCount(TextUnits(frame)) + 1 + body;
        }
        return total;
    }

    /// <summary>Writes a batch as one payload, text or binary (<see cref="UsesBinaryEncoding"/>).</summary>
    public static void Write(IBufferWriter<byte> writer, ReadOnlySpan<Frame> frames, bool binaryEncoding)
    {
        foreach (ref readonly var frame in frames)
        {
            var body = BodyLength(frame, binaryEncoding);
            if (binaryEncoding)
            {
                var header = writer.GetSpan(1 + MaxLengthDigits + 1);
                header[0] = frame.IsBinary ? BinaryMarker : StringMarker;
                var digits = WriteDigits(header[1..], body);
                for (var i = 1; i <= digits; i++)
                {
                    header[i] -= (byte)'0';
                }
                header[1 + digits] = LengthEnd;
                writer.Advance(digits + 2);
                writer.Write(frame.Data.Span);
                continue;
            }
            var prefix = writer.GetSpan(MaxLengthDigits + 1);
            var count = WriteDigits(prefix, TextUnits(frame));
            prefix[count] = (byte)':';
            writer.Advance(count + 1);
            if (!frame.IsBinary)
            {
                writer.Write(frame.Data.Span);
                continue;
            }
            // b4 + base64 of the message bytes (behind the frame's type byte).
            var raw = frame.Data.Span[1..];
            var span = writer.GetSpan(body);
            span[0] = (byte)'b';
            span[1] = (byte)'4';
            Base64.EncodeToUtf8(raw, span[2..], out _, out var written);
            writer.Advance(2 + written);
        }
    }

    /// <summary>Bytes of a frame's packet in the payload (after its length header).</summary>
    private static int BodyLength(in Frame frame, bool binaryEncoding) =>
        frame.IsBinary && !binaryEncoding ? 2 + Base64.GetMaxEncodedToUtf8Length(frame.Data.Length - 1) : frame.Data.Length;

    /// <summary>A frame's length as the text encoding counts it: UTF-16 code units (base64 and control packets are ASCII).</summary>
    private static int TextUnits(in Frame frame) =>
        frame.IsBinary ? 2 + Base64.GetMaxEncodedToUtf8Length(frame.Data.Length - 1) : Encoding.UTF8.GetCharCount(frame.Data.Span);

    private static int DigitCount(int value) => value < 10 ? 1 : (int)Math.Floor(Math.Log10(value)) + 1;

    private static int WriteDigits(Span<byte> destination, int value)
    {
        value.TryFormat(destination, out var written, default, CultureInfo.InvariantCulture);
        return written;
    }

    private static bool TryParseDigits(ReadOnlySpan<byte> digits, out int value)
    {
        value = 0;
        foreach (var b in digits)
        {
            if (b is < (byte)'0' or > (byte)'9')
            {
                return false;
            }
            var next = (long)value * 10 + (b - '0');
            if (next > int.MaxValue)
            {
                return false;
            }
            value = (int)next;
        }
        return true;
    }

    /// <summary>
    /// How many bytes of <paramref name="utf8"/> hold the first <paramref name="units"/> UTF-16 code units; -1 when the
    /// text is shorter, is not UTF-8, or the count ends inside a character.
    /// </summary>
    internal static int Utf8BytesForUtf16Units(ReadOnlySpan<byte> utf8, int units)
    {
        var pos = 0;
        while (units > 0)
        {
            if (pos >= utf8.Length)
            {
                return -1;
            }
            if (Rune.DecodeFromUtf8(utf8[pos..], out var rune, out var consumed) != OperationStatus.Done)
            {
                return -1;
            }
            var width = rune.Utf16SequenceLength;
            if (width > units)
            {
                return -1;
            }
            units -= width;
            pos += consumed;
        }
        return pos;
    }
}
