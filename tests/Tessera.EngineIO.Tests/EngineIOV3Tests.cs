using System.Net;
using System.Net.Http.Headers;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using Tessera.EngineIO.Internal;

namespace Tessera.EngineIO.Tests;

/// <summary>
/// Engine.IO v3 (EngineIOOptions.AllowEIO3, socket.io-client 2.x) on a real Kestrel: the payload encodings of Node's
/// parser-v3 (lengths in UTF-16 code units, binary payloads, b64), client-initiated heartbeat, binary frames behind
/// their type byte. The public engine.io-protocol suite's v3 branch covers the same ground (docs/protocol-notes.md).
/// </summary>
public class EngineIOV3Tests
{
    private static Task<TestServer> StartAsync(bool allow = true) => TestServer.StartAsync(o =>
    {
        o.AllowEIO3 = allow;
        o.PingInterval = TimeSpan.FromMilliseconds(300);
        o.PingTimeout = TimeSpan.FromMilliseconds(200);
    });

    private static async Task<string> OpenAsync(TestServer server, string extra = "&b64=1")
    {
        var body = await server.Http.GetStringAsync(server.Url("EIO=3&transport=polling" + extra));
        var colon = body.IndexOf(':');
        Assert.Equal(body.Length - colon - 1, int.Parse(body[..colon]));
        var open = JsonDocument.Parse(body[(colon + 2)..]).RootElement;
        Assert.Equal(300, open.GetProperty("pingInterval").GetInt32());
        return open.GetProperty("sid").GetString()!;
    }

    private static async Task<HttpResponseMessage> PostAsync(TestServer server, string sid, HttpContent content) =>
        await server.Http.PostAsync(server.Url($"EIO=3&transport=polling&sid={sid}"), content);

    [Fact]
    public async Task Without_AllowEIO3_a_v3_handshake_is_refused_as_an_unsupported_protocol_version()
    {
        await using var server = await StartAsync(allow: false);
        using var response = await server.Http.GetAsync(server.Url("EIO=3&transport=polling"));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal(5, JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("code").GetInt32());
    }

    [Theory]
    [InlineData("EIO=abc&")]
    [InlineData("EIO=2&")]
    [InlineData("")]
    public async Task With_AllowEIO3_only_EIO_3_is_the_third_revision_and_other_versions_are_still_refused(string version)
    {
        await using var server = await StartAsync();
        using var response = await server.Http.GetAsync(server.Url(version + "transport=polling"));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal(5, JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("code").GetInt32());
    }

    [Fact]
    public async Task Text_payload_lengths_count_UTF_16_code_units_both_ways()
    {
        await using var server = await StartAsync();
        var sid = await OpenAsync(server);
        // "4é𝄞": 1 + 1 + 2 UTF-16 code units (7 UTF-8 bytes).
        using var post = await PostAsync(server, sid, new StringContent("4:4é𝄞2:4a", Encoding.UTF8));
        Assert.Equal(HttpStatusCode.OK, post.StatusCode);
        var (status, body) = await GetV3Async(server, sid);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("4:4é𝄞2:4a", body);
    }

    [Fact]
    public async Task A_length_that_does_not_match_closes_the_session()
    {
        await using var server = await StartAsync();
        var sid = await OpenAsync(server);
        using var post = await PostAsync(server, sid, new StringContent("3:4é𝄞", Encoding.UTF8));
        Assert.Equal(HttpStatusCode.BadRequest, post.StatusCode);
        Assert.Equal("parse error", await server.Handler.WaitClosedAsync(sid));
    }

    [Fact]
    public async Task Binary_goes_out_as_a_binary_payload_unless_the_client_asked_for_b64()
    {
        await using var server = await StartAsync();
        var binarySid = await OpenAsync(server, extra: "");
        // A binary payload from the client: "4hi" as a string, then binary message 1 2 3 behind its type byte.
        using var content = new ByteArrayContent([0, 3, 255, (byte)'4', (byte)'h', (byte)'i', 1, 4, 255, 4, 1, 2, 3]);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        using var post = await PostAsync(server, binarySid, content);
        Assert.Equal(HttpStatusCode.OK, post.StatusCode);
        using var poll = await server.Http.GetAsync(server.Url($"EIO=3&transport=polling&sid={binarySid}"));
        Assert.Equal("application/octet-stream", poll.Content.Headers.ContentType?.MediaType);
        Assert.Equal(new byte[] { 0, 3, 255, (byte)'4', (byte)'h', (byte)'i', 1, 4, 255, 4, 1, 2, 3 }, await poll.Content.ReadAsByteArrayAsync());

        var textSid = await OpenAsync(server);
        using var post64 = await PostAsync(server, textSid, new StringContent("10:b4AQIDBA==", Encoding.UTF8));
        Assert.Equal(HttpStatusCode.OK, post64.StatusCode);
        var (_, body) = await GetV3Async(server, textSid);
        Assert.Equal("10:b4AQIDBA==", body);
    }

    [Fact]
    public async Task The_client_pings_and_the_server_answers_and_a_silent_client_times_out()
    {
        await using var server = await StartAsync();
        var sid = await OpenAsync(server);
        for (var i = 0; i < 3; i++)
        {
            using var ping = await PostAsync(server, sid, new StringContent("1:2", Encoding.UTF8));
            Assert.Equal(HttpStatusCode.OK, ping.StatusCode);
            Assert.Equal("1:3", (await GetV3Async(server, sid)).Body);
        }
        // No ping within pingInterval + pingTimeout: the server closes the session by itself (it sends no ping in v3).
        Assert.Equal("ping timeout", await server.Handler.WaitClosedAsync(sid, TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public async Task A_pong_from_a_v3_client_is_the_wrong_heartbeat_direction()
    {
        await using var server = await StartAsync();
        var sid = await OpenAsync(server);
        using var pong = await PostAsync(server, sid, new StringContent("1:3", Encoding.UTF8));
        Assert.Equal("transport error", await server.Handler.WaitClosedAsync(sid));
    }

    [Fact]
    public async Task Over_WebSocket_binary_frames_carry_their_type_byte_and_pings_come_from_the_client()
    {
        await using var server = await StartAsync();
        using var ws = await server.ConnectWebSocketAsync("EIO=3&transport=websocket");
        Assert.StartsWith("0{\"sid\":", await ws.ReceiveTextAsync());
        await ws.SendAsync(new byte[] { 4, 1, 2, 3 }, WebSocketMessageType.Binary, true, CancellationToken.None);
        var (type, data) = await ws.ReceiveMessageAsync();
        Assert.Equal(WebSocketMessageType.Binary, type);
        Assert.Equal(new byte[] { 4, 1, 2, 3 }, data);
        await ws.SendTextAsync("2");
        Assert.Equal("3", await ws.ReceiveTextAsync());
        await ws.SendTextAsync("4text");
        Assert.Equal("4text", await ws.ReceiveTextAsync());
    }

    [Fact]
    public async Task A_binary_frame_that_is_not_a_message_closes_the_session()
    {
        await using var server = await StartAsync();
        using var ws = await server.ConnectWebSocketAsync("EIO=3&transport=websocket");
        var open = JsonDocument.Parse((await ws.ReceiveTextAsync())[1..]).RootElement;
        await ws.SendAsync(new byte[] { 9, 1 }, WebSocketMessageType.Binary, true, CancellationToken.None);
        Assert.Equal("parse error", await server.Handler.WaitClosedAsync(open.GetProperty("sid").GetString()!));
    }

    private static async Task<(HttpStatusCode Status, string Body)> GetV3Async(TestServer server, string sid)
    {
        using var response = await server.Http.GetAsync(server.Url($"EIO=3&transport=polling&sid={sid}"));
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }
}

/// <summary>The pure v3 payload codec (Node's parser-v3), on its own.</summary>
public class PayloadV3Tests
{
    private static readonly Frame[] Mixed =
    [
        new(Encoding.UTF8.GetBytes("4hello"), false),
        new(new byte[] { 4, 1, 2, 3, 4 }, true),
    ];

    [Fact]
    public void Writes_the_suites_examples_in_both_encodings()
    {
        var text = new System.Buffers.ArrayBufferWriter<byte>();
        PayloadV3.Write(text, Mixed, binaryEncoding: false);
        Assert.Equal("6:4hello10:b4AQIDBA==", Encoding.UTF8.GetString(text.WrittenSpan));
        Assert.Equal(text.WrittenCount, PayloadV3.Length(Mixed, binaryEncoding: false));
        var binary = new System.Buffers.ArrayBufferWriter<byte>();
        PayloadV3.Write(binary, Mixed, binaryEncoding: true);
        Assert.Equal(new byte[] { 0, 6, 255, 52, 104, 101, 108, 108, 111, 1, 5, 255, 4, 1, 2, 3, 4 }, binary.WrittenSpan.ToArray());
        Assert.Equal(binary.WrittenCount, PayloadV3.Length(Mixed, binaryEncoding: true));
        Assert.True(PayloadV3.UsesBinaryEncoding(Mixed, supportsBinary: true));
        Assert.False(PayloadV3.UsesBinaryEncoding(Mixed, supportsBinary: false));
    }

    [Theory]
    [InlineData("abc")]
    [InlineData(":4a")]
    [InlineData("9:4a")]
    [InlineData("0:")]
    [InlineData("99999999999:4")]
    [InlineData("2:b9")]
    [InlineData("1:4é")]
    public void Refuses_malformed_text_payloads(string payload)
    {
        ReadOnlyMemory<byte> rest = Encoding.UTF8.GetBytes(payload);
        bool malformed;
        while (PayloadV3.TryReadText(ref rest, out _, out malformed))
        {
        }
        Assert.True(malformed);
    }

    [Theory]
    [InlineData(new byte[] { 2, 1, 255, 52 })]
    [InlineData(new byte[] { 0, 5, 255, 52 })]
    [InlineData(new byte[] { 0, 10, 255, 52 })]
    [InlineData(new byte[] { 0, 1 })]
    [InlineData(new byte[] { 1, 2, 255, 3, 1 })]
    [InlineData(new byte[] { 0, 0, 255 })]
    public void Refuses_malformed_binary_payloads(byte[] payload)
    {
        ReadOnlyMemory<byte> rest = payload;
        bool malformed;
        while (PayloadV3.TryReadBinary(ref rest, out _, out malformed))
        {
        }
        Assert.True(malformed);
    }

    [Fact]
    public void A_string_packet_starting_with_b_is_base64_binary_in_both_encodings()
    {
        ReadOnlyMemory<byte> text = Encoding.ASCII.GetBytes("6:b4AQID");
        Assert.True(PayloadV3.TryReadText(ref text, out var fromText, out _));
        ReadOnlyMemory<byte> binary = (byte[])[0, 6, 255, .. "b4AQID"u8];
        Assert.True(PayloadV3.TryReadBinary(ref binary, out var fromBinary, out _));
        foreach (var segment in new[] { fromText, fromBinary })
        {
            Assert.True(segment.IsBinary && segment.IsBase64);
            Assert.Equal("AQID", Encoding.ASCII.GetString(segment.Data.Span));
        }
    }

    [Fact]
    public void Utf16_units_map_to_whole_characters_only()
    {
        var bytes = Encoding.UTF8.GetBytes("a𝄞b");
        Assert.Equal(1, PayloadV3.Utf8BytesForUtf16Units(bytes, 1));
        Assert.Equal(-1, PayloadV3.Utf8BytesForUtf16Units(bytes, 2));
        Assert.Equal(5, PayloadV3.Utf8BytesForUtf16Units(bytes, 3));
        Assert.Equal(-1, PayloadV3.Utf8BytesForUtf16Units(bytes, 5));
    }
}
