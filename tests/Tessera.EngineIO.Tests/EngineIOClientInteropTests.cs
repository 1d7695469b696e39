namespace Tessera.EngineIO.Tests;

/// <summary>The official engine.io-client 6.x (npm) against a real Tessera endpoint.</summary>
public class EngineIOClientInteropTests
{
    [Theory]
    [InlineData("polling-roundtrip")]
    [InlineData("websocket-roundtrip")]
    [InlineData("upgrade")]
    [InlineData("order-polling")]
    [InlineData("order-websocket")]
    public async Task Official_client_round_trips(string scenario)
    {
        await using var server = await TestServer.StartAsync();
        var summary = await NodeInterop.RunAsync("engineio.mjs", scenario, server.BaseUrl, "1000000");
        Assert.True(summary.GetProperty("ok").GetBoolean());
        await server.AssertServesNewClientAsync();
    }

    [Theory]
    [InlineData("ping-timeout-polling")]
    [InlineData("ping-timeout-websocket")]
    public async Task Official_client_that_stops_answering_pings_is_dropped_by_the_server(string scenario)
    {
        await using var server = await TestServer.StartAsync(o =>
        {
            o.PingInterval = TimeSpan.FromMilliseconds(300);
            o.PingTimeout = TimeSpan.FromMilliseconds(200);
        });
        var summary = await NodeInterop.RunAsync("engineio.mjs", scenario, server.BaseUrl);
        Assert.False(summary.GetProperty("closedByClientWatchdog").GetBoolean());
        var sid = (await server.Handler.Opened.Reader.ReadAsync()).Id;
        Assert.Equal("ping timeout", await server.Handler.WaitClosedAsync(sid));
        // Dropped within pingInterval + pingTimeout (measured by the client from its open event, so a
        // little under is possible), with room for scheduling on a loaded machine.
        var closeAfter = summary.GetProperty("closeAfterMs").GetDouble();
        Assert.InRange(closeAfter, 400, 1500);
    }
}
