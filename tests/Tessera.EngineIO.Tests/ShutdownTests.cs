using System.Net.WebSockets;

namespace Tessera.EngineIO.Tests;

public class ShutdownTests
{
    [Fact]
    public async Task Stopping_the_server_sends_every_session_a_close_packet()
    {
        var server = await TestServer.StartAsync();
        try
        {
            var (sid, _) = await server.HandshakeAsync();
            var poll = server.GetAsync(sid);
            await server.WaitParkedAsync(sid);
            using var ws = await server.ConnectWebSocketAsync("EIO=4&transport=websocket");
            await ws.ReceiveTextAsync();

            var stop = server.StopAsync();
            Assert.Equal("1", (await poll).Body);
            Assert.Equal("1", await ws.ReceiveTextAsync());
            var (type, _) = await ws.ReceiveMessageAsync();
            Assert.Equal(WebSocketMessageType.Close, type);
            Assert.Equal("server shutting down", await server.Handler.WaitClosedAsync(sid));
            // The contract: every app stops within 5 s.
            await stop.WaitAsync(TimeSpan.FromSeconds(5));
        }
        finally
        {
            await server.DisposeAsync();
        }
    }
}
