using System.Buffers;
using System.Net.WebSockets;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;

namespace Tessera.EngineIO.Internal.Transports;

/// <summary>
/// A WebSocket accepted through ASP.NET Core's HTTP stack (<see cref="System.Net.WebSockets.WebSocket"/>): used for
/// upgrades from polling, and for every WebSocket when the direct connection path is not enabled. It owns its
/// receive loop, the upgrade probe and its close, as SignalR's <c>WebSocketsServerTransport</c> does.
/// </summary>
internal sealed partial class ManagedWebSocketTransport(WebSocket webSocket, EngineIOOptions options, ILogger logger) : WebSocketTransport
{
    // Set while a send waits for the client to read: the receive loop reads nothing meanwhile, so a client that sends
    // faster than it reads is slowed down by TCP rather than filling the session's queue.
    private volatile TaskCompletionSource? _stall;

    public WebSocket WebSocket { get; } = webSocket;

    // ManagedWebSocket serialises its sends (a close frame waits for the send in flight), so a session can end with
    // a close handshake even while its last batch is still being written: aborting instead resets the connection,
    // and a client that has just read that batch then loses the close frame behind it.
    public override bool CanCloseWhileWriting => true;

    /// <summary>Diagnostics (tests): how many times the receive loop waited for a stalled send.</summary>
    internal int ReadPauses;

    public override void Deliver(EngineIOSocket socket, List<Frame> batch) => _ = WriteLoopAsync(socket, batch);

    private async Task WriteLoopAsync(EngineIOSocket socket, List<Frame> batch)
    {
        List<Frame>? next = batch;
        Task? stalledSend = null;
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
                    var send = WebSocket.SendAsync(
                        frame.Data,
                        frame.IsBinary ? WebSocketMessageType.Binary : WebSocketMessageType.Text,
                        endOfMessage: true,
                        CancellationToken.None);
                    if (!send.IsCompletedSuccessfully)
                    {
                        // The client is slow to take it: bounded by WriteTimeout (a timer only on this path).
                        var stall = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                        _stall = stall;
                        try
                        {
                            stalledSend = send.AsTask();
                            await stalledSend.WaitAsync(options.WriteTimeout).ConfigureAwait(false);
                            stalledSend = null;
                        }
                        finally
                        {
                            _stall = null;
                            stall.TrySetResult();
                        }
                    }
                }
                next = socket.OnBatchWritten(this, next);
            }
        }
        catch (TimeoutException)
        {
            Log.WriteStalled(logger, socket.Id, (long)options.WriteTimeout.TotalMilliseconds);
            socket.CloseAsSlowConsumer(this, socket.BufferedBytes);
            WebSocket.Abort();
            // The aborted send fails in its own time; its exception is of no interest.
            stalledSend?.ContinueWith(static t => _ = t.Exception, CancellationToken.None,
                TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }
        catch (Exception ex) when (ex is WebSocketException or IOException or ObjectDisposedException or OperationCanceledException or InvalidOperationException)
        {
            socket.OnTransportError(this, CloseReason.TransportError);
        }
    }

    /// <summary>
    /// Reads the WebSocket until it ends; the task ends with the request. In probing mode it first runs the upgrade
    /// handshake (2probe → 3probe, then 5) and only then becomes the session's transport.
    /// </summary>
    public Task RunAsync(EngineIOSocket socket, bool probing)
    {
        return ReceiveLoopAsync(socket, probing);
    }

    private async Task ReceiveLoopAsync(EngineIOSocket socket, bool probing)
    {
        var upgradeTimeout = probing ? new CancellationTokenSource(options.UpgradeTimeout) : null;
        byte[]? buffer = null;
        try
        {
            while (true)
            {
                if (_stall is { } stall)
                {
                    Interlocked.Increment(ref ReadPauses);
                    await stall.Task.ConfigureAwait(false);
                    continue;
                }
                var token = upgradeTimeout?.Token ?? CancellationToken.None;
                // A zero-byte read waits for the next frame without holding a buffer while the socket is idle.
                var result = await WebSocket.ReceiveAsync(Memory<byte>.Empty, token).ConfigureAwait(false);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    await AnswerCloseAsync().ConfigureAwait(false);
                    break;
                }
                var messageType = result.MessageType;
                var count = 0;
                var complete = result.EndOfMessage;
                buffer = ArrayPool<byte>.Shared.Rent(4096);
                while (!complete)
                {
                    if (count == buffer.Length)
                    {
                        var larger = ArrayPool<byte>.Shared.Rent(buffer.Length * 2);
                        buffer.AsSpan(0, count).CopyTo(larger);
                        ArrayPool<byte>.Shared.Return(buffer);
                        buffer = larger;
                    }
                    result = await WebSocket.ReceiveAsync(buffer.AsMemory(count), token).ConfigureAwait(false);
                    if (result.MessageType == WebSocketMessageType.Close)
                    {
                        await AnswerCloseAsync().ConfigureAwait(false);
                        return;
                    }
                    count += result.Count;
                    complete = result.EndOfMessage;
                    if (count > options.MaxPayload)
                    {
                        Log.PayloadTooLarge(logger, socket.Id, count);
                        await CloseOutputAsync(WebSocketCloseStatus.MessageTooBig).ConfigureAwait(false);
                        if (!probing)
                        {
                            socket.Terminate(CloseReason.TransportError, Frame.Close);
                        }
                        return;
                    }
                }
                var data = buffer.AsMemory(0, count);
                if (probing)
                {
                    probing = await HandleProbePacketAsync(socket, messageType, data).ConfigureAwait(false);
                    if (!probing)
                    {
                        upgradeTimeout?.Dispose();
                        upgradeTimeout = null;
                    }
                }
                else if (messageType == WebSocketMessageType.Binary)
                {
                    await socket.OnBinaryMessageAsync(data).ConfigureAwait(false);
                }
                else if (!await socket.OnTextPacketAsync(data).ConfigureAwait(false))
                {
                    return;
                }
                ArrayPool<byte>.Shared.Return(buffer);
                buffer = null;
            }
        }
        catch (OperationCanceledException) when (upgradeTimeout?.IsCancellationRequested == true)
        {
            Log.UpgradeTimedOut(logger, socket.Id);
        }
        catch (Exception ex) when (ex is WebSocketException or IOException or ConnectionAbortedException or OperationCanceledException or ObjectDisposedException)
        {
            Log.WebSocketFailed(logger, socket.Id, ex.GetType().Name);
        }
        finally
        {
            if (buffer is not null)
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
            upgradeTimeout?.Dispose();
            if (probing)
            {
                socket.AbortUpgrade();
                if (WebSocket.State is not WebSocketState.Closed)
                {
                    WebSocket.Abort();
                }
            }
            else
            {
                socket.OnWebSocketEnded(this);
            }
            EndReceiveLoop();
        }
    }

    /// <summary>Returns true while still probing; a packet the upgrade does not expect ends the probe.</summary>
    private async Task<bool> HandleProbePacketAsync(EngineIOSocket socket, WebSocketMessageType type, ReadOnlyMemory<byte> data)
    {
        if (type == WebSocketMessageType.Text)
        {
            if (data.Span.SequenceEqual("2probe"u8))
            {
                // Nothing else writes to this WebSocket until the upgrade completes.
                await WebSocket.SendAsync(Frame.PongProbe.Data, WebSocketMessageType.Text, true, CancellationToken.None).ConfigureAwait(false);
                socket.OnProbed();
                return true;
            }
            if (data.Span.SequenceEqual("5"u8) && socket.CompleteUpgrade(this))
            {
                Log.Upgraded(logger, socket.Id);
                return false;
            }
        }
        Log.InvalidUpgradePacket(logger, socket.Id);
        throw new WebSocketException("invalid upgrade packet");
    }

    /// <summary>
    /// The client closed: answer with our close frame, completing the handshake (RFC 6455 §5.5.1), before the request ends.
    /// Without it the socket is left CloseReceived and aborted, which resets the TCP connection (a proxy logs it as an error).
    /// </summary>
    private Task AnswerCloseAsync() =>
        WebSocket.State == WebSocketState.CloseReceived ? CloseOutputAsync(WebSocketCloseStatus.NormalClosure) : Task.CompletedTask;

    private async Task CloseOutputAsync(WebSocketCloseStatus status)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(1));
        try
        {
            await WebSocket.CloseOutputAsync(status, null, timeout.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is WebSocketException or IOException or OperationCanceledException or ObjectDisposedException)
        {
            WebSocket.Abort();
        }
        // Otherwise the request ends next and Kestrel closes the connection after the close frame is out.
    }

    /// <summary>
    /// A WebSocket for a session that cannot take it (already upgraded, upgrading, or on WebSocket from the start):
    /// Node accepts it and closes it at once. Node's ws sends a close frame without a status; ASP.NET Core's
    /// WebSocket always writes one (1005 may not go on the wire), so 1000. Then it waits for the client's answer.
    /// </summary>
    public static async Task RefuseAsync(WebSocket webSocket)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(1));
        try
        {
            await webSocket.CloseAsync(WebSocketCloseStatus.NormalClosure, null, timeout.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is WebSocketException or IOException or OperationCanceledException)
        {
            webSocket.Abort();
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

    // Event ids 121-126 under the "Tessera.EngineIO" category (the server uses 1-17, the direct path 101-104).
    private static partial class Log
    {
        [LoggerMessage(121, LogLevel.Debug, "Engine.IO session {Sid}: payload of {Length} bytes exceeds maxPayload; closing the session.", EventName = "WebSocketPayloadTooLarge")]
        public static partial void PayloadTooLarge(ILogger logger, string sid, int length);

        [LoggerMessage(122, LogLevel.Debug, "Engine.IO session {Sid} upgraded to websocket.", EventName = "Upgraded")]
        public static partial void Upgraded(ILogger logger, string sid);

        [LoggerMessage(123, LogLevel.Debug, "Engine.IO session {Sid}: upgrade timed out.", EventName = "UpgradeTimedOut")]
        public static partial void UpgradeTimedOut(ILogger logger, string sid);

        [LoggerMessage(124, LogLevel.Debug, "Engine.IO session {Sid}: unexpected packet during upgrade.", EventName = "InvalidUpgradePacket")]
        public static partial void InvalidUpgradePacket(ILogger logger, string sid);

        [LoggerMessage(125, LogLevel.Debug, "Engine.IO session {Sid}: WebSocket ended ({Error}).", EventName = "WebSocketFailed")]
        public static partial void WebSocketFailed(ILogger logger, string sid, string error);

        [LoggerMessage(126, LogLevel.Debug, "Engine.IO session {Sid}: the client has not read what it was sent for {TimeoutMs} ms (WriteTimeout); closing the session.", EventName = "WebSocketWriteStalled")]
        public static partial void WriteStalled(ILogger logger, string sid, long timeoutMs);
    }
}
