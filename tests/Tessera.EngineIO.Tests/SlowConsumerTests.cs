using System.Diagnostics.Metrics;
using System.Net;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Tessera.EngineIO.Internal.WebSockets;
using static Tessera.EngineIO.Tests.DirectWebSocketTests;
using RawClient = Tessera.EngineIO.Tests.DirectWebSocketTests.RawClient;

namespace Tessera.EngineIO.Tests;

/// <summary>
/// Each session's outgoing queue is bounded (MaxBufferedBytes) and a stalled WebSocket write is bounded in time
/// (WriteTimeout): a client that does not read what it is sent is closed as a slow consumer ("transport error",
/// counted in tessera.engineio.slow_consumers); clients that read are never touched.
/// </summary>
public class SlowConsumerTests
{
    private const int Limit = 64 * 1024;

    // An echo request of 3,900 characters (the review's figure), as one masked text frame.
    private static readonly byte[] EchoRequests =
        [.. Enumerable.Range(0, 10).SelectMany(_ => ClientFrame(WebSocketOpcode.Text, Encoding.ASCII.GetBytes("4" + new string('x', 3_900))))];

    [Fact]
    public async Task Polling_client_that_posts_and_never_polls_is_closed_when_its_queue_passes_the_limit()
    {
        await using var server = await TestServer.StartAsync(o => o.MaxBufferedBytes = Limit);
        using var slowConsumers = new SlowConsumerCounter(server);
        var (sid, _) = await server.HandshakeAsync();

        // 100 KB of echoes queued for a client that never sends a GET to collect them.
        var batch = string.Join('\u001e', Enumerable.Repeat("4" + new string('y', 1_000), 100));
        await server.PostAsync(sid, batch);

        Assert.Equal("transport error", await server.Handler.WaitClosedAsync(sid));
        Assert.Equal(1, slowConsumers.Count);
        var poll = await server.GetAsync(sid);
        Assert.Equal(HttpStatusCode.BadRequest, poll.Status);
        Assert.Contains("\"code\":1", poll.Body);
        await server.AssertServesNewClientAsync();
    }

    [Fact]
    public async Task Polling_client_that_polls_gets_every_message()
    {
        await using var server = await TestServer.StartAsync(o => o.MaxBufferedBytes = Limit);
        var (sid, _) = await server.HandshakeAsync();

        // Just under the limit waits for the next GET; the GET takes it all and the queue is empty again.
        for (var round = 0; round < 3; round++)
        {
            var batch = string.Join('\u001e', Enumerable.Repeat("4" + new string('y', 1_000), 60));
            Assert.Equal(HttpStatusCode.OK, (await server.PostAsync(sid, batch)).Status);
            var poll = await server.GetAsync(sid);
            Assert.Equal(HttpStatusCode.OK, poll.Status);
            Assert.Equal(batch, poll.Body);
        }
        Assert.False(server.Handler.Closed.Reader.TryRead(out _));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task WebSocket_client_that_never_reads_is_closed_when_its_queue_passes_the_limit(bool direct)
    {
        await using var server = await TestServer.StartAsync(o => o.MaxBufferedBytes = Limit, directWebSockets: direct);
        using var slowConsumers = new SlowConsumerCounter(server);
        await using var client = await RawClient.ConnectAsync(server, receiveBufferSize: 4096);
        await client.WriteAsync(UpgradeRequest(client, Handshake, NewKey()));
        Assert.StartsWith("HTTP/1.1 101 ", await client.ReadHeadAsync());
        var socket = await server.Handler.Opened.Reader.ReadAsync();

        // The server pushes (a broadcast the client does not keep up with) until the session refuses more.
        var message = EngineIOOutgoingMessage.Text(new string('z', 4_000));
        var accepted = 0L;
        var largest = 0L;
        while (socket.Send(message))
        {
            accepted++;
            largest = Math.Max(largest, socket.BufferedBytes);
            Assert.True(accepted < 100_000, "400 MB queued: the queue is not bounded");
        }

        Assert.Equal("transport error", await server.Handler.WaitClosedAsync(socket.Id));
        Assert.InRange(largest, 1, Limit);
        Assert.Equal(1, slowConsumers.Count);
        Assert.Equal(0, socket.BufferedBytes);
        await server.AssertServesNewClientAsync();
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task WebSocket_client_that_floods_echo_requests_and_never_reads_is_closed(bool direct)
    {
        // Both WebSocket transports stop reading a connection whose output is stalled: the queue stays small, TCP
        // holds the client's flood back, and WriteTimeout ends the session.
        await using var server = await TestServer.StartAsync(o =>
        {
            o.MaxBufferedBytes = 256 * 1024;
            o.WriteTimeout = TimeSpan.FromSeconds(2);
            o.PingInterval = TimeSpan.FromMinutes(5);
        }, directWebSockets: direct);
        using var slowConsumers = new SlowConsumerCounter(server);
        await using var attacker = await RawClient.ConnectAsync(server, receiveBufferSize: 4096);
        await attacker.WriteAsync(UpgradeRequest(attacker, Handshake, NewKey()));
        Assert.StartsWith("HTTP/1.1 101 ", await attacker.ReadHeadAsync());
        var socket = await server.Handler.Opened.Reader.ReadAsync();

        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var largest = 0L;
        var flood = Task.Run(async () =>
        {
            long sent = 0;
            try
            {
                // 20,000 echo requests of 3,900 characters (78 MB), as the review sent, unless cut off first.
                while (sent < 20_000 && !stop.IsCancellationRequested)
                {
                    await attacker.WriteUnboundedAsync(EchoRequests, stop.Token);
                    sent += 10;
                    largest = Math.Max(largest, socket.BufferedBytes);
                }
            }
            catch (Exception ex) when (ex is IOException or OperationCanceledException)
            {
                // Reset by the server: expected.
            }
            return sent;
        });

        // Meanwhile a client that reads is served as usual.
        await server.AssertServesNewClientAsync();
        Assert.Equal("transport error", await server.Handler.WaitClosedAsync(socket.Id, TimeSpan.FromSeconds(30)));
        var sent = await flood;
        Assert.True(sent < 20_000, "the server took all 78 MB");
        Assert.InRange(largest, 0, 256 * 1024);
        Assert.Equal(1, slowConsumers.Count);
        await server.AssertServesNewClientAsync();
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task WebSocket_client_that_reads_gets_every_echo(bool direct)
    {
        await using var server = await TestServer.StartAsync(directWebSockets: direct);
        using var slowConsumers = new SlowConsumerCounter(server);
        using var ws = await server.ConnectWebSocketAsync("EIO=4&transport=websocket");
        Assert.StartsWith("0{", await ws.ReceiveTextAsync());

        // 2,000 echoes of 3,900 characters, sent as fast as the client can while it reads them back.
        var text = "4" + new string('x', 3_900);
        var reader = Task.Run(async () =>
        {
            for (var i = 0; i < 2_000; i++)
            {
                Assert.Equal(text, await ws.ReceiveTextSkippingPingsAsync());
            }
        });
        for (var i = 0; i < 2_000; i++)
        {
            await ws.SendTextAsync(text);
        }
        await reader;
        Assert.Equal(0, slowConsumers.Count);
        Assert.False(server.Handler.Closed.Reader.TryRead(out _));
    }

    /// <summary>Counts tessera.engineio.slow_consumers of one test server (the meter of its own host).</summary>
    private sealed class SlowConsumerCounter : IDisposable
    {
        private readonly MeterListener _listener = new();
        private long _count;

        public SlowConsumerCounter(TestServer server)
        {
            var factory = server.Services.GetRequiredService<IMeterFactory>();
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Name == "tessera.engineio.slow_consumers" && ReferenceEquals(instrument.Meter.Scope, factory))
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            };
            _listener.SetMeasurementEventCallback<long>((_, value, _, _) => Interlocked.Add(ref _count, value));
            _listener.Start();
        }

        public long Count => Interlocked.Read(ref _count);

        public void Dispose() => _listener.Dispose();
    }
}
