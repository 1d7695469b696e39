using System.Net.WebSockets;

namespace Tessera.EngineIO.Tests;

public class ShutdownTests
{
    // As Node: a parked GET receives the close packet; a WebSocket gets a close frame and no close packet.
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Stopping_the_server_closes_every_session(bool directWebSockets)
    {
        var server = await TestServer.StartAsync(directWebSockets: directWebSockets);
        try
        {
            var (sid, _) = await server.HandshakeAsync();
            var poll = server.GetAsync(sid);
            await server.WaitParkedAsync(sid);
            using var ws = await server.ConnectWebSocketAsync("EIO=4&transport=websocket");
            await ws.ReceiveTextAsync();

            var stop = server.StopAsync();
            Assert.Equal("1", (await poll).Body);
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

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_session_still_opening_gets_a_close_handshake_on_shutdown(bool directWebSockets)
    {
        // The receive loop starts only once the handler's OnOpenAsync is done; a shutdown before that used to find
        // no loop to wait for and reset the connection, so the client never saw the close frame.
        var server = await TestServer.StartAsync(directWebSockets: directWebSockets);
        var gate = new TaskCompletionSource();
        server.Handler.OpenGate = gate.Task;
        try
        {
            using var ws = await server.ConnectWebSocketAsync("EIO=4&transport=websocket");
            Assert.StartsWith("0{", await ws.ReceiveTextAsync());
            var opened = await server.Handler.Opened.Reader.ReadAsync();

            var stop = server.StopAsync();
            var (type, _) = await ws.ReceiveMessageAsync();
            Assert.Equal(WebSocketMessageType.Close, type);
            await ws.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, CancellationToken.None);
            gate.SetResult();
            Assert.Equal("server shutting down", await server.Handler.WaitClosedAsync(opened.Id));
            await stop.WaitAsync(TimeSpan.FromSeconds(5));
        }
        finally
        {
            gate.TrySetResult();
            await server.DisposeAsync();
        }
    }
}
