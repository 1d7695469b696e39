namespace Tessera.SocketIO.Tests;

/// <summary>The official socket.io-client 4.8 (npm) against the Socket.IO test app (tests/interop/socketio.mjs).</summary>
public class NodeClientInteropTests
{
    [Theory]
    [InlineData("namespaces")]
    [InlineData("events-websocket")]
    [InlineData("events-polling")]
    [InlineData("binary-websocket")]
    [InlineData("binary-polling")]
    [InlineData("rooms")]
    [InlineData("middleware")]
    public async Task Official_client_scenario_passes(string scenario)
    {
        await using var server = await SioTestServer.StartAsync();
        var summary = await NodeInterop.RunAsync("socketio.mjs", scenario, server.BaseUrl);
        Assert.True(summary.GetProperty("ok").GetBoolean());
    }

    [Fact]
    public async Task Official_client_reconnects_after_the_server_restarts()
    {
        var server = await SioTestServer.StartAsync();
        var port = server.Port;
        try
        {
            var summary = await NodeInterop.RunAsync("socketio.mjs", ["reconnect", server.BaseUrl], async line =>
            {
                if (line.Trim() == "READY")
                {
                    await server.DisposeAsync();
                    server = await SioTestServer.StartAsync(port);
                }
            });
            Assert.True(summary.GetProperty("ok").GetBoolean());
        }
        finally
        {
            await server.DisposeAsync();
        }
    }
}
