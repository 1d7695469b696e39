using System.Buffers;
using System.Text;
using Tessera.EngineIO.Internal;

namespace Tessera.EngineIO.Tests;

public class PacketParserTests
{
    [Theory]
    [InlineData("0{}", (int)PacketType.Open, "{}")]
    [InlineData("1", (int)PacketType.Close, "")]
    [InlineData("2probe", (int)PacketType.Ping, "probe")]
    [InlineData("3", (int)PacketType.Pong, "")]
    [InlineData("4héllo", (int)PacketType.Message, "héllo")]
    [InlineData("5", (int)PacketType.Upgrade, "")]
    [InlineData("6", (int)PacketType.Noop, "")]
    public void Text_packets_split_into_type_and_data(string packet, int type, string data)
    {
        Assert.True(PacketParser.TryParseText(Encoding.UTF8.GetBytes(packet), out var parsedType, out var parsedData));
        Assert.Equal((PacketType)type, parsedType);
        Assert.Equal(data, Encoding.UTF8.GetString(parsedData));
    }

    [Theory]
    [InlineData("")]
    [InlineData("7")]
    [InlineData("a4")]
    [InlineData("/")]
    public void Unknown_or_missing_types_are_rejected(string packet)
    {
        Assert.False(PacketParser.TryParseText(Encoding.UTF8.GetBytes(packet), out _, out _));
    }

    [Fact]
    public void Payload_joins_with_record_separator_and_base64_for_binary()
    {
        Frame[] frames =
        [
            new(Encoding.UTF8.GetBytes("4hello"), false),
            new(new byte[] { 1, 2, 3, 4 }, true),
            Frame.Ping,
        ];
        var writer = new ArrayBufferWriter<byte>();
        PacketParser.WritePayload(writer, frames);
        Assert.Equal("4hello\u001ebAQIDBA==\u001e2", Encoding.UTF8.GetString(writer.WrittenSpan));
        Assert.Equal(writer.WrittenCount, PacketParser.PayloadLength(frames));
    }

    /// <summary>Property: any batch of frames survives encoding into a payload and decoding back.</summary>
    [Fact]
    public void Random_payloads_round_trip()
    {
        var random = new Random(20261124);
        for (var iteration = 0; iteration < 500; iteration++)
        {
            var frames = new Frame[random.Next(1, 8)];
            for (var i = 0; i < frames.Length; i++)
            {
                if (random.Next(2) == 0)
                {
                    var bytes = new byte[random.Next(0, 300)];
                    random.NextBytes(bytes);
                    frames[i] = new Frame(bytes, true);
                }
                else
                {
                    // Text never contains the separator: it is not valid in Engine.IO text.
                    var chars = new char[random.Next(0, 300)];
                    for (var c = 0; c < chars.Length; c++)
                    {
                        chars[c] = (char)random.Next(0x20, 0xD7FF);
                    }
                    frames[i] = new Frame(Encoding.UTF8.GetBytes("4" + new string(chars)), false);
                }
            }
            var writer = new ArrayBufferWriter<byte>();
            PacketParser.WritePayload(writer, frames);
            Assert.Equal(writer.WrittenCount, PacketParser.PayloadLength(frames));

            ReadOnlyMemory<byte> payload = writer.WrittenMemory.ToArray();
            var index = 0;
            while (PacketParser.TryReadPayloadSegment(ref payload, out var memory))
            {
                var segment = memory.Span;
                var expected = frames[index++];
                if (expected.IsBinary)
                {
                    Assert.Equal(PacketParser.BinaryMarker, segment[0]);
                    var decoded = new byte[PacketParser.MaxDecodedLength(segment.Length - 1)];
                    var length = PacketParser.DecodeBinarySegment(segment[1..], decoded);
                    Assert.Equal(expected.Data.ToArray(), decoded.AsSpan(0, length).ToArray());
                }
                else
                {
                    Assert.Equal(expected.Data.ToArray(), segment.ToArray());
                }
            }
            Assert.Equal(frames.Length, index);
        }
    }

    [Fact]
    public void Invalid_base64_is_reported_not_thrown()
    {
        var destination = new byte[16];
        Assert.Equal(-1, PacketParser.DecodeBinarySegment("!!!!"u8, destination));
        Assert.Equal(-1, PacketParser.DecodeBinarySegment("AQI"u8, destination));
    }
}
