using System.Buffers;
using System.Security.Cryptography;
using Tessera.EngineIO.Internal.Transports;
using Tessera.EngineIO.Internal.WebSockets;
using static Tessera.EngineIO.Tests.DirectWebSocketTests;
using RawClient = Tessera.EngineIO.Tests.DirectWebSocketTests.RawClient;

namespace Tessera.EngineIO.Tests;

/// <summary>
/// A frame header may announce up to maxPayload bytes; the buffer must follow the bytes that actually arrive, so an
/// announced megabyte costs nothing until it is sent.
/// </summary>
public class MessageAssemblerTests
{
    private const uint Mask = 0x1A2B3C4D;

    private static byte[] Masked(byte[] payload)
    {
        var masked = payload.ToArray();
        WebSocketFrame.Unmask(masked, Mask, 0);
        return masked;
    }

    [Fact]
    public void A_large_announced_frame_holds_only_what_has_arrived_and_still_assembles()
    {
        var payload = RandomNumberGenerator.GetBytes(900_000);
        var wire = Masked(payload);
        using var message = new MessageAssembler();
        var header = new WebSocketFrameHeader(Fin: true, WebSocketOpcode.Binary, payload.Length, HeaderLength: 14, Mask);

        Assert.True(message.BeginStreamed(header, maxPayload: 1_000_000));
        Assert.Equal(0, message.Capacity);
        Assert.Equal(30, message.AppendStreamed(new ReadOnlySequence<byte>(wire, 0, 30)));
        Assert.InRange(message.Capacity, 1, 4096);

        // The rest in pieces as a socket would deliver them: the buffer grows with them, at most doubling.
        var at = 30;
        var largest = message.Capacity;
        while (message.IsStreaming)
        {
            var piece = Math.Min(1_400, wire.Length - at);
            var before = message.Capacity;
            at += (int)message.AppendStreamed(new ReadOnlySequence<byte>(wire, at, piece));
            Assert.True(message.Capacity <= Math.Max(2 * before, at * 2), $"grew from {before} to {message.Capacity} for {at} bytes");
            largest = Math.Max(largest, message.Capacity);
        }
        message.FinishStreamed();

        Assert.False(message.InProgress);
        Assert.Equal(WebSocketOpcode.Binary, message.Opcode);
        Assert.True(payload.AsSpan().SequenceEqual(message.Data.Span), "the assembled payload differs");
        Assert.InRange(largest, payload.Length, 2 * payload.Length);
        message.Reset();
        Assert.Equal(0, message.Capacity);
    }

    [Fact]
    public void Many_small_fragments_grow_the_buffer_geometrically()
    {
        var payload = RandomNumberGenerator.GetBytes(100_000);
        using var message = new MessageAssembler();
        var resizes = 0;
        var complete = false;
        for (var at = 0; at < payload.Length; at += 100)
        {
            var last = at + 100 >= payload.Length;
            var header = new WebSocketFrameHeader(last, at == 0 ? WebSocketOpcode.Text : WebSocketOpcode.Continuation, 100, 6, Mask);
            var before = message.Capacity;
            Assert.True(message.Append(header, new ReadOnlySequence<byte>(Masked(payload[at..(at + 100)])), 1_000_000, out complete));
            resizes += message.Capacity != before ? 1 : 0;
        }

        Assert.True(complete);
        Assert.True(payload.AsSpan().SequenceEqual(message.Data.Span), "the assembled payload differs");
        // 4 KB doubling to 128 KB: a handful of copies, not one per fragment.
        Assert.InRange(resizes, 1, 8);
    }

    [Fact]
    public void An_announced_size_over_max_payload_is_refused_before_any_buffer()
    {
        using var message = new MessageAssembler();
        var header = new WebSocketFrameHeader(true, WebSocketOpcode.Binary, 2_000_000, 14, Mask);

        Assert.False(message.BeginStreamed(header, maxPayload: 1_000_000));
        Assert.True(message.TooLarge);
        Assert.Equal(0, message.Capacity);
    }

    [Fact]
    public async Task Direct_path_holds_a_small_buffer_for_a_large_frame_that_sent_few_bytes()
    {
        await using var server = await TestServer.StartAsync();
        await using var client = await RawClient.ConnectAsync(server);
        await client.OpenAsync();
        var socket = await server.Handler.Opened.Reader.ReadAsync();
        var transport = Assert.IsType<DirectWebSocketTransport>(socket.CurrentTransport);
        var payload = RandomNumberGenerator.GetBytes(900_000);
        var frame = ClientFrame(WebSocketOpcode.Binary, payload);
        const int HeaderLength = 14; // 2 + 8-byte length + mask

        // The header and 30 bytes: the server starts copying the frame out of the pipe.
        await client.WriteAsync(frame[..(HeaderLength + 30)]);
        using (var wait = new CancellationTokenSource(TimeSpan.FromSeconds(10)))
        {
            while (transport.AssemblerCapacity == 0)
            {
                await Task.Delay(10, wait.Token);
            }
        }
        Assert.InRange(transport.AssemblerCapacity, 1, 4096);

        // The rest, in pieces: the message is assembled and echoed intact.
        foreach (var chunk in frame[(HeaderLength + 30)..].Chunk(16 * 1024))
        {
            await client.WriteAsync(chunk);
        }
        var echo = await client.ReadFrameAsync();
        Assert.Equal(WebSocketOpcode.Binary, echo.Opcode);
        Assert.True(payload.AsSpan().SequenceEqual(echo.Payload), "the echoed payload differs");
    }
}
