using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Tessera.EngineIO.Internal.WebSockets;

namespace Tessera.EngineIO.Tests;

/// <summary>
/// The direct WebSocket path spoken to byte by byte over TCP, so that what reaches the server (split heads,
/// masked frames, interleaved control frames, protocol errors) is exactly what the test wrote.
/// </summary>
public class DirectWebSocketTests
{
    internal const string Handshake = "/engine.io/?EIO=4&transport=websocket";

    [Fact]
    public async Task Handshake_is_answered_with_the_accept_key_then_the_open_packet()
    {
        await using var server = await TestServer.StartAsync();
        await using var client = await RawClient.ConnectAsync(server);
        var key = NewKey();

        await client.WriteAsync(UpgradeRequest(client, Handshake, key));
        var head = await client.ReadHeadAsync();

        Assert.StartsWith("HTTP/1.1 101 Switching Protocols\r\n", head);
        Assert.Contains($"\r\nSec-WebSocket-Accept: {ExpectedAccept(key)}\r\n", head);
        Assert.Contains("\r\nUpgrade: websocket\r\n", head, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("\r\nConnection: Upgrade\r\n", head, StringComparison.OrdinalIgnoreCase);
        AssertAnsweredDirectly(head);
        var open = await client.ReadFrameAsync();
        Assert.Equal(WebSocketOpcode.Text, open.Opcode);
        Assert.True(open.Fin);
        Assert.StartsWith("0{\"sid\":", open.Text);
        var sid = JsonDocument.Parse(open.Text[1..]).RootElement.GetProperty("sid").GetString()!;
        Assert.Equal(sid, (await server.Handler.Opened.Reader.ReadAsync(client.Token)).Id);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Head_arriving_in_pieces_is_still_a_handshake(bool bytePerWrite)
    {
        await using var server = await TestServer.StartAsync();
        await using var client = await RawClient.ConnectAsync(server);
        var request = UpgradeRequest(client, Handshake, NewKey());

        if (bytePerWrite)
        {
            foreach (var b in request)
            {
                await client.WriteAsync([b]);
            }
        }
        else
        {
            // Split inside the final CRLF CRLF: the first write has every header line but not the end of the head.
            await client.WriteAsync(request[..^3]);
            await client.WriteAsync(request[^3..]);
        }

        var head = await client.ReadHeadAsync();
        Assert.StartsWith("HTTP/1.1 101 ", head);
        AssertAnsweredDirectly(head);
        Assert.StartsWith("0{\"sid\":", (await client.ReadFrameAsync()).Text);
        await client.WriteAsync(ClientFrame(WebSocketOpcode.Text, "4hello"u8));
        Assert.Equal("4hello", (await client.ReadFrameAsync()).Text);
    }

    [Fact]
    public async Task Text_message_is_echoed()
    {
        await using var server = await TestServer.StartAsync();
        await using var client = await RawClient.ConnectAsync(server);
        await client.OpenAsync();

        await client.WriteAsync(ClientFrame(WebSocketOpcode.Text, "4hello"u8));

        var echo = await client.ReadFrameAsync();
        Assert.Equal((WebSocketOpcode.Text, true, "4hello"), (echo.Opcode, echo.Fin, echo.Text));
    }

    [Fact]
    public async Task Fragmented_message_with_an_interleaved_ping_is_reassembled_and_the_ping_answered()
    {
        await using var server = await TestServer.StartAsync();
        await using var client = await RawClient.ConnectAsync(server);
        await client.OpenAsync();

        await client.WriteAsync([
            .. ClientFrame(WebSocketOpcode.Text, "4fr"u8, fin: false),
            .. ClientFrame(WebSocketOpcode.Ping, "are you there"u8),
            .. ClientFrame(WebSocketOpcode.Continuation, "agm"u8, fin: false),
            .. ClientFrame(WebSocketOpcode.Continuation, "ented"u8),
        ]);

        var frames = new[] { await client.ReadFrameAsync(), await client.ReadFrameAsync() };
        var pong = Assert.Single(frames, f => f.Opcode == WebSocketOpcode.Pong);
        Assert.Equal("are you there", pong.Text);
        var echo = Assert.Single(frames, f => f.Opcode == WebSocketOpcode.Text);
        Assert.Equal("4fragmented", echo.Text);
        Assert.True(echo.Fin);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public async Task Large_binary_message_sent_in_small_writes_is_echoed_intact(int fragments)
    {
        await using var server = await TestServer.StartAsync(o => o.MaxPayload = 300_000);
        await using var client = await RawClient.ConnectAsync(server);
        await client.OpenAsync();
        var payload = new byte[200 * 1024];
        new Random(20).NextBytes(payload);

        // Each fragment is over 64 KB, so every one is copied out as it arrives rather than held in the pipe.
        var frames = new List<byte>();
        var size = payload.Length / fragments;
        for (var i = 0; i < fragments; i++)
        {
            var last = i == fragments - 1;
            var part = payload.AsSpan(i * size, last ? payload.Length - (i * size) : size);
            frames.AddRange(ClientFrame(i == 0 ? WebSocketOpcode.Binary : WebSocketOpcode.Continuation, part, fin: last));
        }
        foreach (var chunk in frames.ToArray().Chunk(1_400))
        {
            await client.WriteAsync(chunk);
        }

        var echo = await client.ReadFrameAsync();
        Assert.Equal(WebSocketOpcode.Binary, echo.Opcode);
        Assert.True(echo.Fin);
        Assert.Equal(payload.Length, echo.Payload.Length);
        Assert.True(payload.AsSpan().SequenceEqual(echo.Payload), "the echoed payload differs");
    }

    [Theory]
    [InlineData(0x81, false)] // unmasked text frame
    [InlineData(0xC1, true)] // RSV1 without a negotiated extension
    [InlineData(0x83, true)] // reserved opcode
    public async Task Protocol_error_closes_with_1002(byte firstByte, bool masked)
    {
        await using var server = await TestServer.StartAsync();
        await using (var client = await RawClient.ConnectAsync(server))
        {
            var sid = await client.OpenAsync();
            var frame = ClientFrame(WebSocketOpcode.Text, "4hello"u8, masked: masked);
            frame[0] = firstByte;

            await client.WriteAsync(frame);

            await client.AssertClosedWithAsync(1002);
            Assert.Equal("parse error", await server.Handler.WaitClosedAsync(sid));
        }
        await server.AssertServesNewClientAsync();
    }

    [Fact]
    public async Task Invalid_utf8_text_closes_with_1007()
    {
        await using var server = await TestServer.StartAsync();
        await using (var client = await RawClient.ConnectAsync(server))
        {
            var sid = await client.OpenAsync();

            await client.WriteAsync(ClientFrame(WebSocketOpcode.Text, [(byte)'4', 0xC3, 0x28, 0xFF]));

            await client.AssertClosedWithAsync(1007);
            Assert.Equal("parse error", await server.Handler.WaitClosedAsync(sid));
        }
        await server.AssertServesNewClientAsync();
    }

    [Fact]
    public async Task Message_over_max_payload_closes_with_1009()
    {
        await using var server = await TestServer.StartAsync(o => o.MaxPayload = 1_000);
        await using (var client = await RawClient.ConnectAsync(server))
        {
            var sid = await client.OpenAsync();

            // Announced in the header: refused before the payload is read.
            await client.WriteAsync(ClientFrame(WebSocketOpcode.Text, Encoding.ASCII.GetBytes("4" + new string('x', 1_000))));

            await client.AssertClosedWithAsync(1009);
            Assert.Equal("transport error", await server.Handler.WaitClosedAsync(sid));
        }
        await server.AssertServesNewClientAsync();
    }

    [Fact]
    public async Task Client_close_frame_is_answered_and_ends_the_session()
    {
        await using var server = await TestServer.StartAsync();
        await using (var client = await RawClient.ConnectAsync(server))
        {
            var sid = await client.OpenAsync();

            await client.WriteAsync(ClientFrame(WebSocketOpcode.Close, [0x03, 0xE8, (byte)'b', (byte)'y', (byte)'e']));

            await client.AssertClosedWithAsync(1000);
            Assert.Equal("transport close", await server.Handler.WaitClosedAsync(sid));
        }
        await server.AssertServesNewClientAsync();
    }

    [Fact]
    public async Task Polling_handshake_on_the_same_port_falls_through_to_kestrel()
    {
        await using var server = await TestServer.StartAsync();
        await using var client = await RawClient.ConnectAsync(server);

        await client.WriteAsync(Encoding.ASCII.GetBytes(
            $"GET /engine.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: {client.Host}\r\nConnection: close\r\n\r\n"));

        var response = Encoding.UTF8.GetString(await client.ReadToEndAsync());
        Assert.StartsWith("HTTP/1.1 200 OK\r\n", response);
        Assert.Contains("\r\n\r\n0{\"sid\":", response);
    }

    [Fact]
    public async Task WebSocket_handshake_on_another_path_falls_through_to_kestrel()
    {
        await using var server = await TestServer.StartAsync();
        await using var client = await RawClient.ConnectAsync(server);

        await client.WriteAsync(UpgradeRequest(client, "/elsewhere/?EIO=4&transport=websocket", NewKey()));

        Assert.StartsWith("HTTP/1.1 404 ", await client.ReadHeadAsync());
    }

    public static TheoryData<string, byte[]> Garbage => new()
    {
        { "binary", [0x16, 0x03, 0x01, 0x00, 0xA5, 0x01, 0x00, 0x00, 0xA1, 0x03, 0x03, 0x0D, 0x0A, 0x0D, 0x0A] },
        { "text", "HELLO THERE\r\n\r\n"u8.ToArray() },
        { "GET with a broken header", Encoding.ASCII.GetBytes($"GET {Handshake} HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n") },
    };

    [Theory]
    [MemberData(nameof(Garbage))]
    public async Task Garbage_gets_kestrels_400(string kind, byte[] garbage)
    {
        await using var server = await TestServer.StartAsync();
        await using (var client = await RawClient.ConnectAsync(server))
        {
            await client.WriteAsync(garbage);

            var response = Encoding.ASCII.GetString(await client.ReadToEndAsync());
            Assert.True(response.StartsWith("HTTP/1.1 400 ", StringComparison.Ordinal), $"{kind}: {response}");
        }
        await server.AssertServesNewClientAsync();
    }

    [Fact]
    public async Task Connections_beyond_the_pending_heads_limit_are_closed_at_once_and_a_finished_head_frees_its_slot()
    {
        var server = await TestServer.StartAsync(direct: o => o.MaxPendingRequestHeadsPerAddress = 2);
        var clients = new List<RawClient>();
        try
        {
            // Three connections from one address, each with half a head: one of them (whichever the server took
            // last) is closed at once; the other two wait for the rest of their heads.
            var heads = new List<byte[]>();
            var refused = -1;
            var reads = new List<Task<byte[]>>();
            var byIndex = new RawClient?[3];
            for (var i = 0; i < 3; i++)
            {
                try
                {
                    var client = await RawClient.ConnectAsync(server);
                    clients.Add(client);
                    byIndex[i] = client;
                    heads.Add(UpgradeRequest(client, Handshake, NewKey()));
                    await client.WriteAsync(heads[i][..20]);
                    reads.Add(client.ReadUntilClosedAsync());
                }
                catch (Exception ex) when (ex is SocketException { SocketErrorCode: SocketError.ConnectionReset } or IOException)
                {
                    // Closed so fast (the server aborts an over-limit connection as it accepts it) that the reset
                    // reached this side before its connect or first write completed: that one is the refused one.
                    Assert.Equal(-1, refused);
                    refused = i;
                    if (heads.Count == i)
                    {
                        heads.Add([]);
                    }
                    reads.Add(Task.FromResult(Array.Empty<byte>()));
                }
            }
            if (refused < 0)
            {
                var closed = await Task.WhenAny(reads);
                Assert.Empty(await closed);
                refused = reads.IndexOf(closed);
            }

            // The other two finish their heads and become sessions, which frees their slots for a newcomer.
            for (var i = 0; i < 3; i++)
            {
                if (i != refused)
                {
                    await byIndex[i]!.WriteAsync(heads[i][20..]);
                }
            }
            for (var i = 0; i < 2; i++)
            {
                await server.Handler.Opened.Reader.ReadAsync(byIndex[refused == 0 ? 1 : 0]!.Token);
            }
            await using (var newcomer = await RawClient.ConnectAsync(server))
            {
                await newcomer.OpenAsync();
            }
            await server.DisposeAsync();
            for (var i = 0; i < 3; i++)
            {
                if (i != refused)
                {
                    Assert.StartsWith("HTTP/1.1 101 ", Encoding.ASCII.GetString(await reads[i]));
                }
            }
        }
        finally
        {
            foreach (var client in clients)
            {
                await client.DisposeAsync();
            }
            await server.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_connection_that_never_finishes_its_head_is_closed_after_RequestHeadTimeout()
    {
        await using var server = await TestServer.StartAsync(direct: o => o.RequestHeadTimeout = TimeSpan.FromMilliseconds(300));
        await using var client = await RawClient.ConnectAsync(server);
        await client.WriteAsync(Encoding.ASCII.GetBytes("GET " + Handshake + " HTTP/1.1\r\nHost: x\r\n"));

        Assert.Empty(await client.ReadUntilClosedAsync());
        await server.AssertServesNewClientAsync();
    }

    [Fact]
    public async Task Handshake_with_AllowRequest_goes_through_the_http_pipeline()
    {
        var asked = 0;
        await using var server = await TestServer.StartAsync(o => o.AllowRequest = ctx =>
        {
            Interlocked.Increment(ref asked);
            return ValueTask.FromResult(ctx.Request.Headers.Authorization == "let-me-in"
                ? EngineIORequestDecision.Allow
                : EngineIORequestDecision.Refuse("Unauthorized", 401));
        });

        await using (var refused = await RawClient.ConnectAsync(server))
        {
            await refused.WriteAsync(UpgradeRequest(refused, Handshake, NewKey()));
            Assert.StartsWith("HTTP/1.1 401 ", await refused.ReadHeadAsync());
        }
        Assert.Equal(1, Volatile.Read(ref asked));

        await using var allowed = await RawClient.ConnectAsync(server);
        var key = NewKey();
        await allowed.WriteAsync(UpgradeRequest(allowed, Handshake, key, "Authorization: let-me-in\r\n"));
        var head = await allowed.ReadHeadAsync();
        Assert.StartsWith("HTTP/1.1 101 ", head);
        Assert.Contains($"\r\nSec-WebSocket-Accept: {ExpectedAccept(key)}\r\n", head);
        Assert.Contains("\r\nServer: Kestrel\r\n", head);
        Assert.Equal(2, Volatile.Read(ref asked));
        Assert.StartsWith("0{\"sid\":", (await allowed.ReadFrameAsync()).Text);
        await allowed.WriteAsync(ClientFrame(WebSocketOpcode.Text, "4through kestrel"u8));
        Assert.Equal("4through kestrel", (await allowed.ReadFrameAsync()).Text);
    }

    /// <summary>
    /// Kestrel's HTTP stack adds Date and Server headers to its 101; the direct path writes neither. Without this
    /// check a broken direct path would go unnoticed, as Kestrel would answer the same handshake.
    /// </summary>
    internal static void AssertAnsweredDirectly(string head)
    {
        Assert.DoesNotContain("\r\nServer:", head, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("\r\nDate:", head, StringComparison.OrdinalIgnoreCase);
    }

    internal static string NewKey() => Convert.ToBase64String(RandomNumberGenerator.GetBytes(16));

    private static string ExpectedAccept(string key)
    {
        // SHA-1 is what RFC 6455 prescribes for the accept key.
#pragma warning disable CA5350
        return Convert.ToBase64String(SHA1.HashData(Encoding.ASCII.GetBytes(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")));
#pragma warning restore CA5350
    }

    internal static byte[] UpgradeRequest(RawClient client, string target, string key, string extraHeaders = "") =>
        Encoding.ASCII.GetBytes(
            $"GET {target} HTTP/1.1\r\nHost: {client.Host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
            $"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n{extraHeaders}\r\n");

    /// <summary>A client frame as RFC 6455 §5.2 lays it out, masked unless told otherwise.</summary>
    internal static byte[] ClientFrame(WebSocketOpcode opcode, ReadOnlySpan<byte> payload, bool fin = true, bool masked = true)
    {
        var frame = new List<byte> { (byte)((fin ? 0x80 : 0) | (byte)opcode) };
        var maskBit = masked ? 0x80 : 0;
        if (payload.Length < 126)
        {
            frame.Add((byte)(maskBit | payload.Length));
        }
        else if (payload.Length <= ushort.MaxValue)
        {
            frame.Add((byte)(maskBit | 126));
            frame.AddRange([(byte)(payload.Length >> 8), (byte)payload.Length]);
        }
        else
        {
            frame.Add((byte)(maskBit | 127));
            var length = new byte[8];
            BinaryPrimitives.WriteUInt64BigEndian(length, (ulong)payload.Length);
            frame.AddRange(length);
        }
        var mask = masked ? RandomNumberGenerator.GetBytes(4) : [0, 0, 0, 0];
        if (masked)
        {
            frame.AddRange(mask);
        }
        for (var i = 0; i < payload.Length; i++)
        {
            frame.Add((byte)(payload[i] ^ mask[i % 4]));
        }
        return [.. frame];
    }

    internal sealed record ServerFrame(WebSocketOpcode Opcode, bool Fin, byte[] Payload)
    {
        public string Text => Encoding.UTF8.GetString(Payload);
    }

    /// <summary>One TCP connection; every read and write gives up after 10 seconds.</summary>
    internal sealed class RawClient : IAsyncDisposable
    {
        private readonly TcpClient _tcp;
        private readonly NetworkStream _stream;
        private readonly CancellationTokenSource _timeout = new(TimeSpan.FromSeconds(10));

        private RawClient(TcpClient tcp, string host)
        {
            _tcp = tcp;
            _stream = tcp.GetStream();
            Host = host;
        }

        public string Host { get; }

        public CancellationToken Token => _timeout.Token;

        /// <param name="server">The server to connect to.</param>
        /// <param name="receiveBufferSize">The socket's receive buffer (small: a client that does not read fills it soon).</param>
        public static async Task<RawClient> ConnectAsync(TestServer server, int? receiveBufferSize = null)
        {
            var port = new Uri(server.BaseUrl).Port;
            var tcp = new TcpClient { NoDelay = true };
            if (receiveBufferSize is { } size)
            {
                tcp.ReceiveBufferSize = size;
            }
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await tcp.ConnectAsync(IPAddress.Loopback, port, cts.Token);
            return new RawClient(tcp, $"127.0.0.1:{port}");
        }

        /// <summary>Completes the WebSocket handshake and reads the open packet; returns the sid.</summary>
        public async Task<string> OpenAsync()
        {
            await WriteAsync(UpgradeRequest(this, Handshake, NewKey()));
            var head = await ReadHeadAsync();
            Assert.StartsWith("HTTP/1.1 101 ", head);
            AssertAnsweredDirectly(head);
            var open = await ReadFrameAsync();
            Assert.StartsWith("0{", open.Text);
            return JsonDocument.Parse(open.Text[1..]).RootElement.GetProperty("sid").GetString()!;
        }

        public async Task WriteAsync(byte[] bytes)
        {
            await _stream.WriteAsync(bytes, Token);
            await _stream.FlushAsync(Token);
        }

        /// <summary>A write with no deadline of its own (for floods that the server is expected to cut off).</summary>
        public async Task WriteUnboundedAsync(byte[] bytes, CancellationToken token)
        {
            await _stream.WriteAsync(bytes, token);
        }

        /// <summary>Reads an HTTP response head byte by byte, so no byte of what follows is taken.</summary>
        public async Task<string> ReadHeadAsync()
        {
            var head = new List<byte>();
            var one = new byte[1];
            while (head is not [.., (byte)'\r', (byte)'\n', (byte)'\r', (byte)'\n'])
            {
                await _stream.ReadExactlyAsync(one, Token);
                head.Add(one[0]);
                Assert.True(head.Count < 16 * 1024, "no end to the response head");
            }
            return Encoding.ASCII.GetString([.. head]);
        }

        public async Task<ServerFrame> ReadFrameAsync()
        {
            var start = await ReadExactlyAsync(2);
            Assert.True((start[1] & 0x80) == 0, "a server frame must not be masked");
            Assert.True((start[0] & 0x70) == 0, "a server frame must not set reserved bits");
            long length = start[1] & 0x7F;
            if (length == 126)
            {
                length = BinaryPrimitives.ReadUInt16BigEndian(await ReadExactlyAsync(2));
            }
            else if (length == 127)
            {
                length = (long)BinaryPrimitives.ReadUInt64BigEndian(await ReadExactlyAsync(8));
            }
            return new ServerFrame((WebSocketOpcode)(start[0] & 0x0F), (start[0] & 0x80) != 0, await ReadExactlyAsync(checked((int)length)));
        }

        /// <summary>Expects a close frame with <paramref name="status"/>, then the server ending the connection.</summary>
        public async Task AssertClosedWithAsync(ushort status)
        {
            var close = await ReadFrameAsync();
            Assert.Equal(WebSocketOpcode.Close, close.Opcode);
            Assert.True(close.Payload.Length >= 2, "the close frame has no status");
            Assert.Equal(status, BinaryPrimitives.ReadUInt16BigEndian(close.Payload));
            Assert.Empty(await ReadToEndAsync());
        }

        /// <summary>Everything until the server closes the connection, by a FIN or a reset (an aborted connection).</summary>
        public async Task<byte[]> ReadUntilClosedAsync()
        {
            using var all = new MemoryStream();
            try
            {
                await _stream.CopyToAsync(all, Token);
            }
            catch (IOException ex) when (ex.InnerException is SocketException { SocketErrorCode: SocketError.ConnectionReset })
            {
            }
            return all.ToArray();
        }

        /// <summary>Everything until the server closes the connection.</summary>
        public async Task<byte[]> ReadToEndAsync()
        {
            using var all = new MemoryStream();
            await _stream.CopyToAsync(all, Token);
            return all.ToArray();
        }

        public Task<byte[]> ReadBytesAsync(int count) => ReadExactlyAsync(count);

        private async Task<byte[]> ReadExactlyAsync(int count)
        {
            var buffer = new byte[count];
            await _stream.ReadExactlyAsync(buffer, Token);
            return buffer;
        }

        public ValueTask DisposeAsync()
        {
            _stream.Dispose();
            _tcp.Dispose();
            _timeout.Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
