using Tessera.EngineIO.Internal.Transports;
using Tessera.EngineIO.Internal.WebSockets;
using Xunit.Abstractions;
using static Tessera.EngineIO.Tests.DirectWebSocketTests;
using RawClient = Tessera.EngineIO.Tests.DirectWebSocketTests.RawClient;

namespace Tessera.EngineIO.Tests;

/// <summary>
/// A client of the direct WebSocket path that sends and never reads: the server answers each ping with at most one
/// pending pong, stops reading the connection while its output is stalled, and cuts it off after WriteTimeout.
/// Asserted on the transport's own counters, not on time or CPU.
/// </summary>
public class BackpressureTests(ITestOutputHelper output)
{
    // A ping with the largest control payload (125 bytes): 131 bytes on the wire, 127 bytes of pong.
    private static readonly byte[] Pings = [.. Enumerable.Range(0, 100).SelectMany(_ => ClientFrame(WebSocketOpcode.Ping, new byte[125]))];

    // Both ways of writing: straight to the socket (the default), where the kernel's send buffer fills, and through
    // Kestrel's output pipe, where the pipe's pause threshold is reached.
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Ping_flood_from_a_client_that_never_reads_stops_being_read_and_is_cut_off(bool writeToSocket)
    {
        await using var server = await TestServer.StartAsync(o =>
        {
            o.WriteTimeout = TimeSpan.FromSeconds(2);
            o.PingInterval = TimeSpan.FromMinutes(5);
        }, direct: d => d.WriteToSocket = writeToSocket);
        await using var attacker = await RawClient.ConnectAsync(server, receiveBufferSize: 4096);
        var sid = await attacker.OpenAsync();
        var socket = await server.Handler.Opened.Reader.ReadAsync();
        var transport = Assert.IsType<DirectWebSocketTransport>(socket.CurrentTransport);
        Assert.Equal(writeToSocket, transport.WritesToSocket);

        // Pings until the server cuts the connection (or 256 MB, which a server that kept reading would take).
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var flood = Task.Run(async () =>
        {
            long sent = 0;
            try
            {
                while (sent < 256L * 1024 * 1024)
                {
                    await attacker.WriteUnboundedAsync(Pings, stop.Token);
                    sent += Pings.Length;
                }
            }
            catch (Exception ex) when (ex is IOException or OperationCanceledException)
            {
                // Reset by the server: expected.
            }
            return sent / (Pings.Length / 100);
        });

        // While the attacker's connection is stalled, everyone else is served.
        using (var paused = new CancellationTokenSource(TimeSpan.FromSeconds(20)))
        {
            while (Volatile.Read(ref transport.ReadPauses) == 0)
            {
                await Task.Delay(20, paused.Token);
            }
        }
        await server.AssertServesNewClientAsync();
        await using (var other = await RawClient.ConnectAsync(server))
        {
            await other.OpenAsync();
            await other.WriteAsync(ClientFrame(WebSocketOpcode.Text, "4still here"u8));
            Assert.Equal("4still here", (await other.ReadFrameAsync()).Text);
        }

        Assert.Equal("transport error", await server.Handler.WaitClosedAsync(sid, TimeSpan.FromSeconds(30)));
        var sent = await flood;
        var answered = Volatile.Read(ref transport.PongsWritten) + Volatile.Read(ref transport.PongsReplaced);
        output.WriteLine($"pings sent {sent}, answered {answered} (written {transport.PongsWritten}, replaced {transport.PongsReplaced}), read pauses {transport.ReadPauses}");
        Assert.False(stop.IsCancellationRequested, "the server never cut the stalled connection off");
        // The server stopped reading: much of what the client managed to send was never even parsed.
        Assert.True(answered < sent, $"the server answered {answered} of {sent} pings: it kept reading");
        await server.AssertServesNewClientAsync();
    }

    [Fact]
    public async Task Pings_answered_while_the_client_reads_each_get_their_pong()
    {
        await using var server = await TestServer.StartAsync();
        await using var client = await RawClient.ConnectAsync(server);
        await client.OpenAsync();
        var socket = await server.Handler.Opened.Reader.ReadAsync();
        var transport = Assert.IsType<DirectWebSocketTransport>(socket.CurrentTransport);
        Assert.True(transport.WritesToSocket);

        for (var i = 0; i < 50; i++)
        {
            await client.WriteAsync(ClientFrame(WebSocketOpcode.Ping, [(byte)i]));
            var pong = await client.ReadFrameAsync();
            Assert.Equal(WebSocketOpcode.Pong, pong.Opcode);
            Assert.Equal([(byte)i], pong.Payload);
        }
        Assert.Equal(50, Volatile.Read(ref transport.PongsWritten));
        Assert.Equal(0, Volatile.Read(ref transport.ReadPauses));
    }
}
