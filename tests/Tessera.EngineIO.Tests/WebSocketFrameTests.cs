using System.Buffers;
using System.Runtime.InteropServices;
using System.Text;
using Tessera.EngineIO.Internal.WebSockets;

namespace Tessera.EngineIO.Tests;

public class WebSocketFrameTests
{
    private static readonly byte[] MaskBytes = [0x37, 0xFA, 0x21, 0x3D];

    private static uint Mask => MemoryMarshal.Read<uint>(MaskBytes);

    /// <summary>Client frame headers: FIN + text with 5 bytes, binary with 256, a non-final binary with 65536.</summary>
    public static TheoryData<byte[], bool, byte, long> Headers => new()
    {
        { [0x81, 0x85, .. MaskBytes], true, (byte)WebSocketOpcode.Text, 5 },
        { [0x81, 0xFD, .. MaskBytes], true, (byte)WebSocketOpcode.Text, 125 },
        { [0x82, 0xFE, 0x01, 0x00, .. MaskBytes], true, (byte)WebSocketOpcode.Binary, 256 },
        { [0x82, 0xFE, 0xFF, 0xFF, .. MaskBytes], true, (byte)WebSocketOpcode.Binary, 65535 },
        { [0x02, 0xFF, 0, 0, 0, 0, 0, 1, 0, 0, .. MaskBytes], false, (byte)WebSocketOpcode.Binary, 65536 },
        { [0x80, 0xFF, 0, 0, 0, 1, 0, 0, 0, 0, .. MaskBytes], true, (byte)WebSocketOpcode.Continuation, 1L << 32 },
        { [0x89, 0x80, .. MaskBytes], true, (byte)WebSocketOpcode.Ping, 0 },
    };

    [Theory]
    [MemberData(nameof(Headers))]
    public void Header_is_parsed(byte[] bytes, bool fin, byte opcodeByte, long length)
    {
        var opcode = (WebSocketOpcode)opcodeByte;
        var status = WebSocketFrame.TryReadHeader(bytes, long.MaxValue, out var header);

        Assert.Equal(FrameParseStatus.Ok, status);
        Assert.Equal(new WebSocketFrameHeader(fin, opcode, length, bytes.Length, Mask), header);
        Assert.Equal(bytes.Length + length, header.FrameLength);
        Assert.Equal(opcode == WebSocketOpcode.Ping, header.IsControl);
    }

    public static TheoryData<byte[]> HeaderBytes
    {
        get
        {
            var data = new TheoryData<byte[]>();
            foreach (var row in Headers)
            {
                data.Add((byte[])row[0]);
            }
            return data;
        }
    }

    [Theory]
    [MemberData(nameof(HeaderBytes))]
    public void Header_is_incomplete_at_every_truncation_point(byte[] bytes)
    {
        for (var available = 0; available < bytes.Length; available++)
        {
            Assert.Equal(FrameParseStatus.Incomplete, WebSocketFrame.TryReadHeader(bytes.AsSpan(0, available), long.MaxValue, out _));
            Assert.Equal(FrameParseStatus.Incomplete, WebSocketFrame.TryReadHeader(new ReadOnlySequence<byte>(bytes, 0, available), long.MaxValue, out _));
        }
    }

    [Theory]
    [MemberData(nameof(HeaderBytes))]
    public void Header_split_across_segments_reads_as_the_whole(byte[] bytes)
    {
        WebSocketFrame.TryReadHeader(bytes, long.MaxValue, out var expected);
        byte[] withPayload = [.. bytes, 1, 2, 3];
        for (var split = 1; split < withPayload.Length; split++)
        {
            var buffer = TwoSegments(withPayload, split);
            Assert.Equal(FrameParseStatus.Ok, WebSocketFrame.TryReadHeader(buffer, long.MaxValue, out var header));
            Assert.Equal(expected, header);
        }
    }

    public static TheoryData<string, byte[]> ProtocolErrors => new()
    {
        { "unmasked", [0x81, 0x05] },
        { "unmasked with a mask key after it", [0x81, 0x05, .. MaskBytes] },
        { "RSV1", [0xC1, 0x85, .. MaskBytes] },
        { "RSV2", [0xA1, 0x85, .. MaskBytes] },
        { "RSV3", [0x91, 0x85, .. MaskBytes] },
        { "opcode 3", [0x83, 0x85, .. MaskBytes] },
        { "opcode 7", [0x87, 0x85, .. MaskBytes] },
        { "opcode 0xB", [0x8B, 0x85, .. MaskBytes] },
        { "opcode 0xF", [0x8F, 0x85, .. MaskBytes] },
        { "fragmented ping", [0x09, 0x81, .. MaskBytes] },
        { "fragmented close", [0x08, 0x82, .. MaskBytes] },
        { "ping of 126 bytes", [0x89, 0xFE, 0x00, 0x7E, .. MaskBytes] },
        { "close of 65536 bytes", [0x88, 0xFF, 0, 0, 0, 0, 0, 1, 0, 0, .. MaskBytes] },
        { "pong of 65535 bytes", [0x8A, 0xFE, 0xFF, 0xFF, .. MaskBytes] },
        { "64-bit length with the top bit set", [0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0, .. MaskBytes] },
    };

    [Theory]
    [MemberData(nameof(ProtocolErrors))]
    public void Broken_header_is_a_protocol_error(string rule, byte[] bytes)
    {
        Assert.True(
            WebSocketFrame.TryReadHeader(bytes, long.MaxValue, out _) == FrameParseStatus.ProtocolError,
            $"{rule} was not a protocol error");
    }

    [Theory]
    [InlineData(1000, 1000, false)]
    [InlineData(1001, 1000, true)]
    [InlineData(125, 124, true)]
    [InlineData(70_000, 65_536, true)]
    public void Payload_over_the_limit_is_too_large(int length, long maxPayload, bool tooLarge)
    {
        var header = new byte[14];
        var headerLength = WebSocketFrame.WriteHeader(header, WebSocketOpcode.Binary, length);
        header[1] |= 0x80;
        MaskBytes.CopyTo(header, headerLength);

        var expected = tooLarge ? FrameParseStatus.TooLarge : FrameParseStatus.Ok;
        Assert.Equal(expected, WebSocketFrame.TryReadHeader(header.AsSpan(0, headerLength + 4), maxPayload, out _));
    }

    [Theory]
    [InlineData(0, new byte[] { 0x81, 0 })]
    [InlineData(125, new byte[] { 0x81, 125 })]
    [InlineData(126, new byte[] { 0x81, 126, 0, 126 })]
    [InlineData(65535, new byte[] { 0x81, 126, 0xFF, 0xFF })]
    [InlineData(65536, new byte[] { 0x81, 127, 0, 0, 0, 0, 0, 1, 0, 0 })]
    public void Server_header_uses_the_shortest_length_encoding(int length, byte[] expected)
    {
        var header = new byte[WebSocketFrame.MaxServerHeaderLength];

        var written = WebSocketFrame.WriteHeader(header, WebSocketOpcode.Text, length);

        Assert.Equal(expected, header[..written]);
        Assert.Equal(written, WebSocketFrame.HeaderLength(length));
    }

    [Fact]
    public void Write_and_WriteClose_produce_whole_unmasked_frames()
    {
        var writer = new ArrayBufferWriter<byte>();
        WebSocketFrame.Write(writer, WebSocketOpcode.Pong, "hi"u8);
        WebSocketFrame.WriteClose(writer, 1002);

        Assert.Equal([0x8A, 0x02, (byte)'h', (byte)'i', 0x88, 0x02, 0x03, 0xEA], writer.WrittenSpan.ToArray());
    }

    [Fact]
    public void Unmasking_in_pieces_equals_unmasking_whole()
    {
        var random = new Random(6455);
        for (var iteration = 0; iteration < 200; iteration++)
        {
            var payload = new byte[random.Next(0, 300)];
            random.NextBytes(payload);
            var maskBytes = new byte[4];
            random.NextBytes(maskBytes);
            var mask = ReadMaskKey(maskBytes, payload.Length);
            // RFC 6455 §5.3, written out independently of the codec.
            var masked = payload.Select((b, i) => (byte)(b ^ maskBytes[i % 4])).ToArray();

            var whole = masked.ToArray();
            WebSocketFrame.Unmask(whole, mask, 0);
            Assert.Equal(payload, whole);

            // Pieces at odd offsets of a larger array, so they are also unaligned in memory.
            var pieces = new byte[masked.Length + 3];
            masked.CopyTo(pieces, 3);
            var at = 0;
            while (at < masked.Length)
            {
                var length = Math.Min(random.Next(1, 20), masked.Length - at);
                WebSocketFrame.Unmask(pieces.AsSpan(3 + at, length), mask, at);
                at += length;
            }
            Assert.Equal(payload, pieces[3..]);
        }
    }

    [Fact]
    public void Unmask_offset_is_taken_modulo_four_even_past_int_range()
    {
        var data = "abcdefgh"u8.ToArray();
        var reference = data.ToArray();
        WebSocketFrame.Unmask(reference, Mask, 1);

        WebSocketFrame.Unmask(data, Mask, (1L << 40) + 1);

        Assert.Equal(reference, data);
    }

    [Theory]
    [InlineData(new byte[0], true)]
    [InlineData(new byte[] { 0x03 }, false)]
    [InlineData(new byte[] { 0x03, 0xE8 }, true)] // 1000
    [InlineData(new byte[] { 0x03, 0xE8, (byte)'b', (byte)'y', (byte)'e' }, true)]
    [InlineData(new byte[] { 0x03, 0xE8, 0xC3, 0xA9 }, true)] // 1000 "é"
    [InlineData(new byte[] { 0x03, 0xE8, 0xFF }, false)] // invalid UTF-8 reason
    [InlineData(new byte[] { 0x03, 0xE8, 0xC3 }, false)] // truncated UTF-8 reason
    [InlineData(new byte[] { 0x03, 0xE7 }, false)] // 999
    [InlineData(new byte[] { 0x03, 0xEB }, true)] // 1003
    [InlineData(new byte[] { 0x03, 0xEC }, false)] // 1004, reserved
    [InlineData(new byte[] { 0x03, 0xED }, false)] // 1005, never sent
    [InlineData(new byte[] { 0x03, 0xEE }, false)] // 1006, never sent
    [InlineData(new byte[] { 0x03, 0xEF }, true)] // 1007
    [InlineData(new byte[] { 0x03, 0xF6 }, true)] // 1014
    [InlineData(new byte[] { 0x03, 0xF7 }, false)] // 1015, never sent
    [InlineData(new byte[] { 0x0B, 0xB7 }, false)] // 2999
    [InlineData(new byte[] { 0x0B, 0xB8 }, true)] // 3000
    [InlineData(new byte[] { 0x13, 0x87 }, true)] // 4999
    [InlineData(new byte[] { 0x13, 0x88 }, false)] // 5000
    [InlineData(new byte[] { 0x00, 0x00 }, false)]
    public void Close_payload_is_validated(byte[] payload, bool valid)
    {
        Assert.Equal(valid, WebSocketFrame.IsValidClosePayload(payload));
    }

    [Fact]
    public void Assembler_joins_fragments_into_one_message()
    {
        using var assembler = new MessageAssembler();

        Assert.True(assembler.Append(DataHeader(WebSocketOpcode.Text, fin: false, 3), Masked("4fr"), 1000, out var complete));
        Assert.False(complete);
        Assert.True(assembler.InProgress);
        Assert.True(assembler.Append(DataHeader(WebSocketOpcode.Continuation, fin: false, 3), Masked("agm"), 1000, out complete));
        Assert.False(complete);
        Assert.True(assembler.Append(DataHeader(WebSocketOpcode.Continuation, fin: true, 5), Masked("ented"), 1000, out complete));

        Assert.True(complete);
        Assert.False(assembler.InProgress);
        Assert.Equal(WebSocketOpcode.Text, assembler.Opcode);
        Assert.Equal("4fragmented", Encoding.UTF8.GetString(assembler.Data.Span));
    }

    [Fact]
    public void Assembler_joins_a_payload_that_arrives_in_several_segments()
    {
        using var assembler = new MessageAssembler();
        var masked = Masked("a payload in pieces").ToArray();

        Assert.True(assembler.Append(DataHeader(WebSocketOpcode.Binary, fin: false, masked.Length), TwoSegments(masked, 5), 1000, out _));
        Assert.True(assembler.Append(DataHeader(WebSocketOpcode.Continuation, fin: true, 1), Masked("!"), 1000, out var complete));

        Assert.True(complete);
        Assert.Equal(WebSocketOpcode.Binary, assembler.Opcode);
        Assert.Equal("a payload in pieces!", Encoding.UTF8.GetString(assembler.Data.Span));
    }

    [Fact]
    public void Assembler_refuses_a_continuation_without_a_start()
    {
        using var assembler = new MessageAssembler();

        Assert.False(assembler.Append(DataHeader(WebSocketOpcode.Continuation, fin: true, 2), Masked("hi"), 1000, out _));
        Assert.False(assembler.TooLarge);
    }

    [Fact]
    public void Assembler_refuses_a_new_message_before_the_last_one_ended()
    {
        using var assembler = new MessageAssembler();
        Assert.True(assembler.Append(DataHeader(WebSocketOpcode.Text, fin: false, 2), Masked("4a"), 1000, out _));

        Assert.False(assembler.Append(DataHeader(WebSocketOpcode.Text, fin: true, 2), Masked("4b"), 1000, out _));
        Assert.False(assembler.TooLarge);
    }

    [Fact]
    public void Assembler_refuses_fragments_that_add_up_past_the_limit()
    {
        using var assembler = new MessageAssembler();
        var part = new string('x', 600);
        Assert.True(assembler.Append(DataHeader(WebSocketOpcode.Text, fin: false, 600), Masked(part), 1000, out _));

        Assert.False(assembler.Append(DataHeader(WebSocketOpcode.Continuation, fin: true, 600), Masked(part), 1000, out _));
        Assert.True(assembler.TooLarge);
    }

    [Fact]
    public void Assembler_streams_a_large_frame_piece_by_piece()
    {
        var payload = new byte[100_000];
        new Random(42).NextBytes(payload);
        var masked = payload.Select((b, i) => (byte)(b ^ MaskBytes[i % 4])).ToArray();
        using var assembler = new MessageAssembler();

        Assert.True(assembler.BeginStreamed(DataHeader(WebSocketOpcode.Binary, fin: true, payload.Length), 200_000));
        var at = 0;
        while (at + 7_919 < masked.Length)
        {
            Assert.Equal(7_919, assembler.AppendStreamed(new ReadOnlySequence<byte>(masked, at, 7_919)));
            Assert.True(assembler.IsStreaming);
            at += 7_919;
        }
        // The last read also holds the start of the next frame: only the rest of this one is taken.
        byte[] last = [.. masked.AsSpan(at), 0x81, 0x85];
        Assert.Equal(masked.Length - at, assembler.AppendStreamed(new ReadOnlySequence<byte>(last)));
        Assert.False(assembler.IsStreaming);
        assembler.FinishStreamed();

        Assert.False(assembler.InProgress);
        Assert.Equal(payload, assembler.Data.ToArray());
    }

    [Fact]
    public void Assembler_refuses_a_streamed_frame_over_the_limit()
    {
        using var assembler = new MessageAssembler();

        Assert.False(assembler.BeginStreamed(DataHeader(WebSocketOpcode.Binary, fin: true, 100_001), 100_000));
        Assert.True(assembler.TooLarge);
    }

    private static WebSocketFrameHeader DataHeader(WebSocketOpcode opcode, bool fin, long length) =>
        new(fin, opcode, length, WebSocketFrame.HeaderLength(length) + 4, Mask);

    private static ReadOnlySequence<byte> Masked(string text) =>
        new(Encoding.UTF8.GetBytes(text).Select((b, i) => (byte)(b ^ MaskBytes[i % 4])).ToArray());

    /// <summary>The mask key as the codec reads it from the wire.</summary>
    private static uint ReadMaskKey(byte[] maskBytes, int payloadLength)
    {
        var header = new byte[14];
        var length = WebSocketFrame.WriteHeader(header, WebSocketOpcode.Binary, payloadLength);
        header[1] |= 0x80;
        maskBytes.CopyTo(header, length);
        Assert.Equal(FrameParseStatus.Ok, WebSocketFrame.TryReadHeader(header.AsSpan(0, length + 4), long.MaxValue, out var parsed));
        return parsed.MaskKey;
    }

    private static ReadOnlySequence<byte> TwoSegments(byte[] bytes, int split)
    {
        var first = new Segment(bytes.AsMemory(0, split), 0);
        var second = new Segment(bytes.AsMemory(split), split);
        first.SetNext(second);
        return new ReadOnlySequence<byte>(first, 0, second, bytes.Length - split);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public void SetNext(Segment next) => Next = next;
    }
}
