using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;
using Tessera.SocketIO;

namespace Tessera.Redis.Tests;

/// <summary>What other nodes publish is decoded defensively: malformed messages are logged at Debug and ignored.</summary>
public class MalformedMessageTests
{
    /// <summary>
    /// Found while fuzzing the msgpack decoder (tests/fuzz): a malformed msgpack message on the request channel (a
    /// broadcast expecting acks) or the response channel (an ack) threw MessagePackSerializationException or
    /// EndOfStreamException out of the subscription handler, which only caught JSON errors.
    /// </summary>
    [Theory]
    [InlineData("socket.io-request#/#", new byte[] { 0x93, 0xc6, 0x86, 0x00, 0xfa, 0xc5, 0xc6 }, "MessagePackSerializationException")]
    [InlineData("socket.io-request#/#", new byte[] { 0x83, 0xa4, (byte)'t', (byte)'y', (byte)'p', (byte)'e' }, "EndOfStreamException")]
    [InlineData("socket.io-response#/#", new byte[] { 0x82, 0xa4, (byte)'t', (byte)'y' }, "EndOfStreamException")]
    public async Task Malformed_msgpack_requests_and_responses_are_logged_and_ignored(string channel, byte[] message, string error)
    {
        await using var redis = await RedisServer.StartAsync();
        var logs = new LogCapture();
        var (app, _) = await LoopbackApp.StartAsync(
            builder => builder.Services.AddSocketIO().AddRedisAdapter(o => o.Configuration = redis.Configuration),
            app => app.MapSocketIO(),
            logs: logs);
        await using var stopApp = app;
        // The default namespace's adapter (and its subscriptions) comes with the first use of the namespace.
        app.Services.GetRequiredService<SocketIOServer>().Emit("warm-up");
        await using var publisher = await ConnectionMultiplexer.ConnectAsync(redis.Configuration);
        var subscriber = publisher.GetSubscriber();

        // Until the node's subscription is up, nobody receives it.
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (await subscriber.PublishAsync(RedisChannel.Literal(channel), message) == 0)
        {
            Assert.True(DateTime.UtcNow < deadline, "the node never subscribed to " + channel);
            await Task.Delay(50);
        }
        while (!logs.Entries.Any(e => e.Message.Contains("Ignoring a malformed message", StringComparison.Ordinal) && e.Message.Contains(error, StringComparison.Ordinal)))
        {
            Assert.True(DateTime.UtcNow < deadline, "no malformed-message log; logged: " + string.Join(" | ", logs.Entries.Select(e => e.Message)));
            await Task.Delay(50);
        }
        Assert.DoesNotContain(logs.Entries, e => e.Level >= LogLevel.Warning && e.Category.StartsWith("Tessera", StringComparison.Ordinal));
    }
}
