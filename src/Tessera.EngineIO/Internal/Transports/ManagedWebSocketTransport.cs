using System.Net.WebSockets;

namespace Tessera.EngineIO.Internal.Transports;

/// <summary>
/// A WebSocket accepted through ASP.NET Core's HTTP stack (<see cref="System.Net.WebSockets.WebSocket"/>): used for
/// upgrades from polling, and for every WebSocket when the direct connection path is not enabled.
/// </summary>
internal sealed class ManagedWebSocketTransport(WebSocket webSocket) : WebSocketTransport
{
    public WebSocket WebSocket { get; } = webSocket;

    public override void Deliver(EngineIOSocket socket, List<Frame> batch) => _ = WriteLoopAsync(socket, batch);

    private async Task WriteLoopAsync(EngineIOSocket socket, List<Frame> batch)
    {
        List<Frame>? next = batch;
        try
        {
            while (next is not null)
            {
                for (var i = 0; i < next.Count; i++)
                {
                    var frame = next[i];
                    if (frame.IsClose)
                    {
                        // Shutdown closes the WebSocket itself once the batch is out.
                        continue;
                    }
                    await WebSocket.SendAsync(
                        frame.Data,
                        frame.IsBinary ? WebSocketMessageType.Binary : WebSocketMessageType.Text,
                        endOfMessage: true,
                        CancellationToken.None).ConfigureAwait(false);
                }
                next = socket.OnBatchWritten(this, next);
            }
        }
        catch (Exception ex) when (ex is WebSocketException or IOException or ObjectDisposedException or OperationCanceledException or InvalidOperationException)
        {
            socket.OnTransportError(this, "transport error");
        }
    }

    public override void Shutdown(bool graceful)
    {
        switch (WebSocket.State)
        {
            case WebSocketState.CloseSent or WebSocketState.Closed:
                // Our close frame is already out; the receive loop ends the request.
                break;
            case WebSocketState.Open when graceful:
                _ = CloseGracefullyAsync();
                break;
            default:
                WebSocket.Abort();
                break;
        }
    }

    private async Task CloseGracefullyAsync()
    {
        // The client answers our close frame with its own, which ends the receive loop; a client that does not
        // answer is cut off so the request (and its connection) cannot linger.
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        try
        {
            await WebSocket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, timeout.Token).ConfigureAwait(false);
            await ReceiveLoop.WaitAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is WebSocketException or IOException or ObjectDisposedException or OperationCanceledException or InvalidOperationException)
        {
            // The peer vanished or never answered: nothing to report, the socket is aborted just below.
        }
        if (WebSocket.State is not WebSocketState.Closed)
        {
            WebSocket.Abort();
        }
    }
}
