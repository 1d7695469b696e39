using System.Text.Json;
using Tessera.EngineIO;

namespace Tessera.SocketIO.Tests;

/// <summary>
/// SocketIOParser.MessagePack against socket.io-msgpack-parser 3.x's format (notepack.io maps), on its own; the official
/// client runs against it in tests/interop/msgpack.mjs.
/// </summary>
public class MsgPackParserTests
{
    private static readonly SocketIOParser Parser = SocketIOParser.MessagePack;

    private static SocketIOPacketContent? Decode(byte[] bytes) => Parser.CreateDecoder().Add(new EngineIOMessage(bytes, isBinary: true));

    [Fact]
    public void An_event_is_encoded_as_notepack_encodes_nodes_packet_object()
    {
        var data = JsonDocument.Parse("[\"a\",1]").RootElement;
        var messages = Parser.Encode(new SocketIOPacketContent(2, "/", data, []));
        var message = Assert.Single(messages);
        Assert.True(message.IsBinary);
        // {type: 2, data: ["a", 1], nsp: "/"} as notepack.io writes it.
        byte[] expected = [0x83, 0xa4, .. "type"u8, 0x02, 0xa4, .. "data"u8, 0x92, 0xa1, (byte)'a', 0x01, 0xa3, .. "nsp"u8, 0xa1, (byte)'/'];
        Assert.Equal(expected, message.Body.ToArray());
    }

    [Fact]
    public void Binary_travels_inline_and_comes_back_as_attachments()
    {
        var data = JsonDocument.Parse("[\"file\",{\"_placeholder\":true,\"num\":0},{\"x\":1.5}]").RootElement;
        var message = Assert.Single(Parser.Encode(new SocketIOPacketContent(2, "/chat", data, [[1, 2, 3]], id: 7)));
        var decoded = Decode(message.Body.ToArray())!;
        Assert.Equal(2, decoded.Type);
        Assert.Equal("/chat", decoded.Namespace);
        Assert.Equal(7, decoded.Id);
        Assert.Equal("[\"file\",{\"_placeholder\":true,\"num\":0},{\"x\":1.5}]", decoded.Data.GetRawText());
        Assert.Equal(new byte[] { 1, 2, 3 }, Assert.Single(decoded.Attachments));
    }

    [Fact]
    public void Keys_other_than_the_four_are_ignored_and_a_connect_may_have_no_data()
    {
        // {type: 0, nsp: "/", options: {compress: true}}
        byte[] connect = [0x83, 0xa4, .. "type"u8, 0x00, 0xa3, .. "nsp"u8, 0xa1, (byte)'/', 0xa7, .. "options"u8, 0x81, 0xa8, .. "compress"u8, 0xc3];
        var decoded = Decode(connect)!;
        Assert.Equal(0, decoded.Type);
        Assert.Equal(JsonValueKind.Undefined, decoded.Data.ValueKind);
        Assert.Equal(-1, decoded.Id);
    }

    public static TheoryData<byte[]> Malformed => new()
    {
        // not a map
        (byte[])[0x92, 0x01, 0x02],
        // type 5: binary types do not exist in this format
        (byte[])[0x82, 0xa4, .. "type"u8, 0x05, 0xa3, .. "nsp"u8, 0xa1, (byte)'/'],
        // no nsp
        (byte[])[0x81, 0xa4, .. "type"u8, 0x02],
        // nsp not a string
        (byte[])[0x82, 0xa4, .. "type"u8, 0x02, 0xa3, .. "nsp"u8, 0x01],
        // id not an integer
        (byte[])[0x83, 0xa4, .. "type"u8, 0x03, 0xa3, .. "nsp"u8, 0xa1, (byte)'/', 0xa2, .. "id"u8, 0xa1, (byte)'1'],
        // trailing bytes
        (byte[])[0x82, 0xa4, .. "type"u8, 0x01, 0xa3, .. "nsp"u8, 0xa1, (byte)'/', 0x00],
        // truncated
        (byte[])[0x83, 0xa4, .. "type"u8, 0x02, 0xa4, .. "data"u8, 0x92],
        // a str32 claiming 2 GB
        (byte[])[0x81, 0xa4, .. "type"u8, 0xdb, 0x80, 0x00, 0x00, 0x00],
    };

    [Theory]
    [MemberData(nameof(Malformed))]
    public void Malformed_input_is_a_FormatException(byte[] bytes) =>
        Assert.Throws<FormatException>(() => Decode(bytes));

    [Fact]
    public void A_text_message_is_malformed_with_this_parser() =>
        Assert.Throws<FormatException>(() => Parser.CreateDecoder().Add(new EngineIOMessage("2[\"a\"]"u8.ToArray(), isBinary: false)));
}
