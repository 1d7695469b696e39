using System.Text;
using System.Text.Json;
using Tessera.SocketIO.Internal.Parser;

namespace Tessera.SocketIO.Tests;

public class ParserTests
{
    private static Packet Decode(string text)
    {
        var packet = PacketDecoder.Decode(Encoding.UTF8.GetBytes(text), out var error);
        Assert.True(packet is not null, error);
        return packet;
    }

    [Fact]
    public void Decodes_every_field()
    {
        var packet = Decode("52-/chat,123[\"ev\",{\"_placeholder\":true,\"num\":0},{\"_placeholder\":true,\"num\":1}]");
        Assert.Equal(PacketType.BinaryEvent, packet.Type);
        Assert.Equal(2, packet.Attachments);
        Assert.Equal("/chat", packet.Namespace);
        Assert.Equal(123, packet.Id);
        Assert.Equal(3, packet.Data.GetArrayLength());
    }

    [Theory]
    [InlineData("0", 0, "/", -1)]
    [InlineData("0/admin,", 0, "/admin", -1)]
    [InlineData("0/admin", 0, "/admin", -1)]
    [InlineData("1/admin,", 1, "/admin", -1)]
    [InlineData("3/admin,7[]", 3, "/admin", 7)]
    [InlineData("2[\"a\"]", 2, "/", -1)]
    [InlineData("2[1]", 2, "/", -1)]
    [InlineData("4{\"message\":\"x\"}", 4, "/", -1)]
    [InlineData("4\"plain\"", 4, "/", -1)]
    public void Decodes_valid_packets(string text, int type, string nsp, long id)
    {
        var packet = Decode(text);
        Assert.Equal((PacketType)type, packet.Type);
        Assert.Equal(nsp, packet.Namespace);
        Assert.Equal(id, packet.Id);
    }

    [Theory]
    [InlineData("")]
    [InlineData("abc")]
    [InlineData("7[]")]
    [InlineData("2{}")]
    [InlineData("2")]
    [InlineData("2[]")]
    [InlineData("2[null]")]
    [InlineData("2[\"connect\"]")]
    [InlineData("2[\"a\"] trailing")]
    [InlineData("2[\"a\"")]
    [InlineData("0[]")]
    [InlineData("1{}")]
    [InlineData("3{}")]
    [InlineData("5[\"a\"]")]
    [InlineData("5-[\"a\"]")]
    [InlineData("50-[\"a\"]")]
    [InlineData("511-[\"a\"]")]
    [InlineData("5a-[\"a\"]")]
    [InlineData("2123456789012345678[\"a\"]")]
    public void Rejects_malformed_packets(string text)
    {
        Assert.Null(PacketDecoder.Decode(Encoding.UTF8.GetBytes(text), out var error));
        Assert.False(string.IsNullOrEmpty(error));
    }

    /// <summary>
    /// Found by fuzzing (tests/fuzz/crashes/socketio): invalid UTF-8 inside a JSON string got through the JSON reader,
    /// and the event name's GetString() threw InvalidOperationException out of Decode (a polling body is not UTF-8
    /// checked on the way in).
    /// </summary>
    [Theory]
    [InlineData(new byte[] { (byte)'2', (byte)'[', (byte)'"', 0xFF, (byte)'"', (byte)']' })]
    [InlineData(new byte[] { (byte)'2', (byte)'[', (byte)'"', (byte)'a', (byte)'"', (byte)',', (byte)'"', 0xC3, (byte)'"', (byte)']' })]
    [InlineData(new byte[] { (byte)'0', (byte)'{', (byte)'"', (byte)'t', (byte)'"', (byte)':', (byte)'"', 0xA7, 0xA7, (byte)'"', (byte)'}' })]
    public void Rejects_invalid_utf8_in_the_payload(byte[] text)
    {
        Assert.Null(PacketDecoder.Decode(text, out var error));
        Assert.Equal("invalid payload", error);
    }

    [Fact]
    public void Rejects_namespace_longer_than_the_limit()
    {
        var text = "0/" + new string('x', PacketDecoder.MaxNamespaceLength) + ",";
        Assert.Null(PacketDecoder.Decode(Encoding.UTF8.GetBytes(text), out _));
    }

    [Fact]
    public void Encodes_header_then_compact_json()
    {
        var packet = PacketEncoder.Encode(PacketType.Event, "/chat", 12, "hi", static (w, s) =>
        {
            w.WriteStartArray();
            w.WriteStringValue("msg");
            w.WriteStringValue(s);
            w.WriteEndArray();
        });
        Assert.Equal("42/chat,12[\"msg\",\"hi\"]", Encoding.UTF8.GetString(packet.Text.Length > 0 ? Text(packet) : []));
        Assert.Null(packet.Attachments);
    }

    [Fact]
    public void Binary_values_become_placeholders_and_attachments()
    {
        var packet = PacketEncoder.Encode(PacketType.Ack, "/", 5, new byte[] { 7, 8 }, static (w, bytes) =>
        {
            w.WriteStartArray();
            BinaryContext.WritePlaceholder(w, bytes);
            w.WriteEndArray();
        });
        Assert.Equal("461-5[{\"_placeholder\":true,\"num\":0}]", Encoding.UTF8.GetString(Text(packet)));
        Assert.Single(packet.Attachments!);
    }

    private static byte[] Text(EncodedPacket packet)
    {
        var field = typeof(Tessera.EngineIO.EngineIOOutgoingMessage).GetProperty("Encoded", System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Instance)!;
        return ((ReadOnlyMemory<byte>)field.GetValue(packet.Text)!).ToArray();
    }

    /// <summary>Property: whatever namespace, id and event arguments, encoding then decoding gives them back.</summary>
    [Fact]
    public void Random_events_round_trip_through_encoder_and_decoder()
    {
        var random = new Random(5);
        for (var i = 0; i < 300; i++)
        {
            var nsp = random.Next(3) == 0 ? "/" : "/" + RandomText(random, 1, 20).Replace(",", "");
            var id = random.Next(3) == 0 ? -1 : random.NextInt64(0, 1L << 40);
            var args = Enumerable.Range(0, random.Next(0, 5)).Select(_ => RandomText(random, 0, 40)).ToArray();
            var packet = PacketEncoder.Encode(PacketType.Event, nsp, id, args, static (w, a) =>
            {
                w.WriteStartArray();
                w.WriteStringValue("ev");
                foreach (var arg in a)
                {
                    w.WriteStringValue(arg);
                }
                w.WriteEndArray();
            });
            var text = Text(packet);
            Assert.Equal((byte)'4', text[0]);
            var decoded = PacketDecoder.Decode(text.AsSpan(1), out var error);
            Assert.True(decoded is not null, error);
            Assert.Equal(nsp, decoded.Namespace);
            Assert.Equal(id, decoded.Id);
            Assert.Equal(["ev", .. args], decoded.Data.EnumerateArray().Select(e => e.GetString()!));
        }
    }

    private static string RandomText(Random random, int min, int max)
    {
        var chars = new char[random.Next(min, max)];
        for (var i = 0; i < chars.Length; i++)
        {
            chars[i] = (char)random.Next(0x20, 0xD7FF);
        }
        return new string(chars);
    }

    [Fact]
    public void Args_bind_binary_placeholders_to_byte_arrays()
    {
        var packet = Decode("52-[\"ev\",{\"file\":{\"_placeholder\":true,\"num\":1},\"name\":\"x\"},{\"_placeholder\":true,\"num\":0}]");
        packet.Buffers = [[1], [2, 3]];
        var args = new SocketIOArgs(packet.Data, 1, packet.Buffers, SocketIOOptions.CreateSerializerOptions());
        Assert.Equal(new byte[] { 2, 3 }, args.Get<Upload>(0)!.File);
        Assert.Equal(new byte[] { 1 }, args.GetBytes(1));
        Assert.Null(args.GetBytes(0));
    }

    private sealed record Upload(byte[] File, string Name);
}
