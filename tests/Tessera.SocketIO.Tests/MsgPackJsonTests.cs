using System.Buffers;
using System.Text;
using System.Text.Json;
using MessagePack;
using Tessera.SocketIO.Internal.Parser;

namespace Tessera.SocketIO.Tests;

public class MsgPackJsonTests
{
    private static (JsonElement Element, List<byte[]> Attachments) RoundTrip(JsonElement element, IReadOnlyList<byte[]> attachments)
    {
        var buffer = new ArrayBufferWriter<byte>();
        var writer = new MessagePackWriter(buffer);
        MsgPackJson.Write(ref writer, element, attachments);
        writer.Flush();
        var reader = new MessagePackReader(buffer.WrittenMemory);
        var read = new List<byte[]>();
        return (MsgPackJson.ReadElement(ref reader, read), read);
    }

    [Fact]
    public void Placeholders_become_bin_values_and_come_back_as_placeholders()
    {
        var element = JsonDocument.Parse("[\"ev\",{\"file\":{\"_placeholder\":true,\"num\":0},\"n\":1.5,\"ok\":true,\"none\":null}]").RootElement;
        var (back, attachments) = RoundTrip(element, [[1, 2, 3]]);
        Assert.Equal("[\"ev\",{\"file\":{\"_placeholder\":true,\"num\":0},\"n\":1.5,\"ok\":true,\"none\":null}]", back.GetRawText());
        Assert.Equal(new byte[] { 1, 2, 3 }, Assert.Single(attachments));
    }

    [Fact]
    public void Notepack_bytes_decode_as_node_sends_them()
    {
        // What notepack.io writes for ["hi", {"a": 1}, <Buffer 09>]: fixarray(3), fixstr, fixmap(1), positive fixint, bin8.
        byte[] bytes = [0x93, 0xa2, (byte)'h', (byte)'i', 0x81, 0xa1, (byte)'a', 0x01, 0xc4, 0x01, 0x09];
        var reader = new MessagePackReader(bytes);
        var attachments = new List<byte[]>();
        var element = MsgPackJson.ReadElement(ref reader, attachments);
        Assert.Equal("[\"hi\",{\"a\":1},{\"_placeholder\":true,\"num\":0}]", element.GetRawText());
        Assert.Equal(new byte[] { 9 }, Assert.Single(attachments));
    }

    /// <summary>Found by fuzzing (tests/fuzz/crashes/msgpack): a uint64 map key past long.MaxValue threw OverflowException.</summary>
    [Fact]
    public void A_uint64_map_key_past_long_max_becomes_its_decimal_text()
    {
        // fixmap(1) { uint64 0xFFFFFFFFFFFFFFFF: nil }
        byte[] bytes = [0x81, 0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xc0];
        var reader = new MessagePackReader(bytes);
        var element = MsgPackJson.ReadElement(ref reader, []);
        Assert.Equal("{\"18446744073709551615\":null}", element.GetRawText());
    }

    /// <summary>Found by fuzzing (tests/fuzz/crashes/msgpack): a placeholder-like object whose num is not a number threw InvalidOperationException.</summary>
    [Theory]
    [InlineData("[\"ev\",{\"_placeholder\":true,\"num\":\"0\"}]")]
    [InlineData("[\"ev\",{\"_placeholder\":true,\"num\":null}]")]
    [InlineData("[\"ev\",{\"_placeholder\":true,\"num\":[0]}]")]
    public void A_placeholder_whose_num_is_not_a_number_is_plain_data(string json)
    {
        var element = JsonDocument.Parse(json).RootElement;
        var (back, attachments) = RoundTrip(element, [[1, 2, 3]]);
        Assert.Equal(element.GetRawText(), back.GetRawText());
        Assert.Empty(attachments);
    }

    /// <summary>
    /// Found by fuzzing (tests/fuzz/crashes/msgpack): a str32 or bin32 length of 2^31 or more came out of
    /// MessagePackReader as an ArgumentOutOfRangeException, and nesting one level past JsonDocument's depth limit
    /// as a JsonException. Malformed messages are MessagePackSerializationException (or EndOfStreamException when
    /// truncated), which is what the adapter's handlers expect.
    /// </summary>
    [Theory]
    [InlineData(new byte[] { 0xdb, 0xa5, 0x75, 0x69, 0x64, 0x2d, 0x31 })]
    [InlineData(new byte[] { 0xc6, 0x86, 0x00, 0xfa, 0xc5, 0xc6, 0xc0 })]
    [InlineData(new byte[] { 0xdd, 0xff, 0xff, 0xff, 0xff, 0xc0 })]
    [InlineData(new byte[] { 0xdf, 0x80, 0x00, 0x00, 0x00, 0xc0 })]
    public void Lengths_past_int_max_are_malformed(byte[] bytes)
    {
        var thrown = Record.Exception(() =>
        {
            var reader = new MessagePackReader(bytes);
            MsgPackJson.ReadElement(ref reader, []);
        });
        Assert.True(thrown is MessagePackSerializationException or EndOfStreamException, thrown?.ToString() ?? "nothing thrown");
    }

    [Fact]
    public void Nesting_is_limited_to_what_JsonDocument_reads()
    {
        byte[] deepest = [.. Enumerable.Repeat((byte)0x91, 63), 0x91, 0xc0];
        var reader = new MessagePackReader(deepest);
        Assert.Equal(JsonValueKind.Array, MsgPackJson.ReadElement(ref reader, []).ValueKind);

        byte[] tooDeep = [.. Enumerable.Repeat((byte)0x91, 64), 0x90];
        Assert.Throws<MessagePackSerializationException>(() =>
        {
            var tooDeepReader = new MessagePackReader(tooDeep);
            MsgPackJson.ReadElement(ref tooDeepReader, []);
        });
    }

    /// <summary>Property: random JSON payloads with binary survive the trip through MessagePack.</summary>
    [Fact]
    public void Random_payloads_round_trip()
    {
        var random = new Random(7);
        for (var i = 0; i < 300; i++)
        {
            var attachments = new List<byte[]>();
            var json = RandomValue(random, 0, attachments);
            var element = JsonDocument.Parse(json).RootElement;
            var (back, backAttachments) = RoundTrip(element, attachments);
            Assert.Equal(Normalize(element), Normalize(back));
            Assert.Equal(attachments.Count, backAttachments.Count);
            for (var a = 0; a < attachments.Count; a++)
            {
                Assert.Equal(attachments[a], backAttachments[a]);
            }
        }
    }

    private static string Normalize(JsonElement element) => JsonSerializer.Serialize(element);

    private static string RandomValue(Random random, int depth, List<byte[]> attachments)
    {
        switch (random.Next(depth > 3 ? 5 : 8))
        {
            case 0: return "null";
            case 1: return random.Next(2) == 0 ? "true" : "false";
            case 2: return random.NextInt64(-1_000_000_000_000, 1_000_000_000_000).ToString(System.Globalization.CultureInfo.InvariantCulture);
            case 3: return JsonSerializer.Serialize(new string((char)random.Next(0x20, 0x7e), random.Next(0, 20)) + "é€😀");
            case 4: return (random.NextDouble() * 1000 - 500).ToString("R", System.Globalization.CultureInfo.InvariantCulture);
            case 5:
                var bytes = new byte[random.Next(0, 50)];
                random.NextBytes(bytes);
                attachments.Add(bytes);
                return $"{{\"_placeholder\":true,\"num\":{attachments.Count - 1}}}";
            case 6:
                var items = Enumerable.Range(0, random.Next(0, 4)).Select(_ => RandomValue(random, depth + 1, attachments));
                return "[" + string.Join(",", items) + "]";
            default:
                var members = Enumerable.Range(0, random.Next(0, 4)).Select(k => $"\"k{k}\":" + RandomValue(random, depth + 1, attachments));
                return "{" + string.Join(",", members) + "}";
        }
    }
}
