using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.Extensions.Logging;
using Tessera.EngineIO.Internal.WebSockets;

namespace Tessera.EngineIO.Internal.Transports;

/// <summary>
/// A WebSocket served straight over a Kestrel connection's pipes, without Kestrel's HTTP/1.1 objects or
/// <see cref="System.Net.WebSockets.WebSocket"/> beneath it: frames are parsed from the input pipe in place and
/// a batch of packets is written as frames with one send: straight to the socket where Kestrel's socket transport
/// gives it (see <see cref="EngineIODirectWebSocketOptions.WriteToSocket"/>), else into the output pipe with one flush.
/// </summary>
/// <remarks>
/// Writing to the socket skips, per batch, the pipe's copy and flush and Kestrel's send loop with its socket event
/// args (a sixth of a broadcast delivery's CPU, docs/architecture.md). Nothing is ever written to the output pipe
/// then, not even the 101, so the two can never be out of order; the pipe is only completed at the end, which is how
/// Kestrel learns to close the connection.
/// </remarks>
internal sealed partial class DirectWebSocketTransport : WebSocketTransport
{
    // Frames up to this size are handled once complete, in the pipe's own memory; larger ones are copied out
    // as they arrive, so a payload bigger than the pipe's pause threshold cannot stall the connection.
    private const int InPlaceFrameLimit = 64 * 1024;

    private static readonly TimeSpan CloseHandshakeTimeout = TimeSpan.FromSeconds(2);

    private readonly ConnectionContext _connection;
    private readonly PipeWriter _output;
    // Set when frames go straight to the socket (non-blocking; see remarks).
    private readonly Socket? _socket;
    // The 101, sent ahead of the first frames when writing to the socket.
    private byte[]? _upgradeResponse;
    private readonly long _maxPayload;
    private readonly EngineIOOptions _options;
    private readonly ILogger _logger;
    private EngineIOSocket? _owner;
    // Everything below is guarded by lock (this) (an internal object: no Lock instance per connection): one
    // thread at a time "pumps" writes into the output pipe.
    private bool _pumping;
    private List<Frame>? _queued;
    // The pong to write next. A ping arriving before it is out replaces it (RFC 6455 §5.5.3 allows answering
    // only the latest), so a ping flood costs one pending frame, never a growing backlog.
    private byte[]? _pong;
    // The close frame to write, after whatever is pending; nothing goes out after it.
    private byte[]? _close;
    private bool _closeSent;
    private bool _closeWritten;
    private bool _finished;
    private bool _outputCompleted;
    // Set while a flush waits for the peer to read (the output is stalled): the receive loop stops reading until it
    // completes, so a client that does not read cannot make the server keep working on its input.
    private volatile TaskCompletionSource? _stall;

    public DirectWebSocketTransport(ConnectionContext connection, EngineIOOptions options, ILogger logger, bool writeToSocket = true)
    {
        _connection = connection;
        _output = connection.Transport.Output;
        _socket = writeToSocket ? WritableSocket(connection) : null;
        _maxPayload = options.MaxPayload;
        _options = options;
        _logger = logger;
    }

    /// <summary>Whether frames go straight to the socket (tests).</summary>
    internal bool WritesToSocket => _socket is not null;

    /// <summary>
    /// The connection's socket, switched to non-blocking sends, when Kestrel's socket transport made the connection
    /// and no TLS is layered over it; otherwise null, and everything goes through the output pipe.
    /// </summary>
    private static Socket? WritableSocket(ConnectionContext connection)
    {
        if (connection.Features.Get<ITlsHandshakeFeature>() is not null
            || connection.Features.Get<IConnectionSocketFeature>()?.Socket is not { SocketType: SocketType.Stream } socket)
        {
            return null;
        }
        try
        {
            // Only this transport's own sends are synchronous; Kestrel's receives are asynchronous and unaffected.
            socket.Blocking = false;
            return socket;
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            return null;
        }
    }

    /// <summary>The 101 answer: into the output pipe (sent by the open packet's flush), or held for the first send.</summary>
    public void WriteUpgradeResponse(string key, string? setCookie)
    {
        if (_socket is null)
        {
            UpgradeResponse.Write(_output, key, setCookie);
            return;
        }
        var response = new ArrayBufferWriter<byte>(256);
        UpgradeResponse.Write(response, key, setCookie);
        _upgradeResponse = response.WrittenSpan.ToArray();
    }

    public override bool CanCloseWhileWriting => true;

    // Only for fragmented or very large messages (most connections never create one); used by the receive loop.
    private MessageAssembler? _assembler;

    /// <summary>Diagnostics (tests): pongs written, pongs replaced by a newer one before going out, and how many
    /// times the receive loop waited for a stalled output.</summary>
    internal int PongsWritten;
    internal int PongsReplaced;
    internal int ReadPauses;

    /// <summary>Bytes held for a message still arriving (tests).</summary>
    internal int AssemblerCapacity => Volatile.Read(ref _assembler)?.Capacity ?? 0;

    public void Attach(EngineIOSocket owner) => _owner = owner;

    public override void Deliver(EngineIOSocket socket, List<Frame> batch)
    {
        lock (this)
        {
            if (_pumping)
            {
                // A control frame is being written: the pump picks the batch up before it stops.
                _queued = batch;
                return;
            }
            _pumping = true;
        }
        Pump(batch);
    }

    private void SendPong(ReadOnlySpan<byte> payload)
    {
        var frame = new byte[WebSocketFrame.HeaderLength(payload.Length) + payload.Length];
        var header = WebSocketFrame.WriteHeader(frame, WebSocketOpcode.Pong, payload.Length);
        payload.CopyTo(frame.AsSpan(header));
        lock (this)
        {
            if (_closeSent || _outputCompleted)
            {
                return;
            }
            if (_pong is not null)
            {
                PongsReplaced++;
            }
            _pong = frame;
            if (_pumping)
            {
                return;
            }
            _pumping = true;
        }
        Pump(null);
    }

    private void SendClose(ushort status)
    {
        var frame = new ArrayBufferWriter<byte>(4);
        WebSocketFrame.WriteClose(frame, status);
        lock (this)
        {
            if (_closeSent || _outputCompleted)
            {
                return;
            }
            _closeSent = true;
            _close = frame.WrittenSpan.ToArray();
            if (_pumping)
            {
                return;
            }
            _pumping = true;
        }
        Pump(null);
    }

    /// <summary>
    /// Writes the pending pong, batches and the close frame until there is nothing left, flushing once per round.
    /// Synchronous while flushes complete synchronously (the usual case), so a send costs no task.
    /// </summary>
    private void Pump(List<Frame>? batch)
    {
        try
        {
            while (true)
            {
                byte[]? pong;
                byte[]? close;
                bool afterClose;
                lock (this)
                {
                    pong = _pong;
                    _pong = null;
                    close = _close;
                    _close = null;
                    batch ??= _queued;
                    _queued = null;
                    if (pong is null && close is null && batch is null)
                    {
                        StopPumpingLocked();
                        return;
                    }
                    afterClose = _closeWritten;
                    _closeWritten |= close is not null;
                    if (pong is not null)
                    {
                        PongsWritten++;
                    }
                }
                if (_socket is not null)
                {
                    var (buffer, length) = Gather(pong, afterClose ? null : batch, close);
                    var sent = SendSome(_socket, buffer, length);
                    if (sent < length)
                    {
                        _ = PumpAfterStallAsync(SendRestAsync(_socket, buffer, sent, length), buffer, batch);
                        return;
                    }
                    ArrayPool<byte>.Shared.Return(buffer);
                    batch = Written(batch);
                    continue;
                }
                // A pong first: it must not wait behind a long batch. The close frame last: nothing follows it.
                if (pong is not null)
                {
                    _output.Write(pong);
                }
                if (batch is not null && !afterClose)
                {
                    WriteBatch(batch);
                }
                if (close is not null)
                {
                    _output.Write(close);
                }
                var flush = _output.FlushAsync();
                if (!flush.IsCompletedSuccessfully)
                {
                    _ = PumpAfterStallAsync(flush.AsTask(), null, batch);
                    return;
                }
                batch = AfterFlush(flush.Result, batch);
            }
        }
        catch (Exception ex) when (ex is InvalidOperationException or IOException or ObjectDisposedException or OperationCanceledException or SocketException)
        {
            OnWriteFailed(batch);
        }
    }

    /// <summary>
    /// One send's bytes in a pooled buffer, in the pipe path's order: the 101 (first send only), the pong, the batch's
    /// frames, the close frame.
    /// </summary>
    private (byte[] Buffer, int Length) Gather(byte[]? pong, List<Frame>? batch, byte[]? close)
    {
        var response = _upgradeResponse;
        _upgradeResponse = null;
        var length = (response?.Length ?? 0) + (pong?.Length ?? 0) + (close?.Length ?? 0);
        if (batch is not null)
        {
            foreach (var frame in CollectionsMarshal.AsSpan(batch))
            {
                length += FrameLength(frame);
            }
        }
        var buffer = ArrayPool<byte>.Shared.Rent(Math.Max(length, 1));
        var span = buffer.AsSpan();
        Append(ref span, response);
        Append(ref span, pong);
        if (batch is not null)
        {
            foreach (var frame in CollectionsMarshal.AsSpan(batch))
            {
                span = span[WriteFrame(span, frame)..];
            }
        }
        Append(ref span, close);
        return (buffer, length);

        static void Append(ref Span<byte> span, byte[]? bytes)
        {
            if (bytes is not null)
            {
                bytes.CopyTo(span);
                span = span[bytes.Length..];
            }
        }
    }

    /// <summary>Sends what the kernel takes without waiting; the bytes sent (fewer than asked when its buffer is full).</summary>
    private static int SendSome(Socket socket, byte[] buffer, int length)
    {
        var sent = 0;
        while (sent < length)
        {
            var n = socket.Send(buffer.AsSpan(sent, length - sent), SocketFlags.None, out var error);
            if (error == SocketError.WouldBlock)
            {
                break;
            }
            if (error != SocketError.Success)
            {
                throw new SocketException((int)error);
            }
            sent += n;
        }
        return sent;
    }

    private static async Task SendRestAsync(Socket socket, byte[] buffer, int sent, int length)
    {
        while (sent < length)
        {
            sent += await socket.SendAsync(buffer.AsMemory(sent, length - sent), SocketFlags.None).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// The peer is not taking what was written (the kernel's send buffer is full, or the pipe is past its pause
    /// threshold): <paramref name="pending"/> is the rest of the send or the flush. Input is not read meanwhile, and a
    /// write that does not finish within WriteTimeout closes the session as a slow consumer. <paramref name="buffer"/>,
    /// the pooled buffer being sent (none for a flush), goes back to the pool once the send is done.
    /// </summary>
    private async Task PumpAfterStallAsync(Task pending, byte[]? buffer, List<Frame>? batch)
    {
        var stall = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _stall = stall;
        try
        {
            try
            {
                await pending.WaitAsync(_options.WriteTimeout).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                if (_owner is { } owner)
                {
                    Log.DirectWebSocketStalled(_logger, owner.Id, (long)_options.WriteTimeout.TotalMilliseconds);
                    owner.CloseAsSlowConsumer(this, owner.BufferedBytes);
                }
                // Cut off; the write then ends too, and only then is the pipe let go. A buffer is not pooled again:
                // the send may still hold it.
                _connection.Abort();
                await pending.WaitAsync(CloseHandshakeTimeout).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                _ = pending.ContinueWith(static t => _ = t.Exception, CancellationToken.None,
                    TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
                OnWriteFailed(batch);
                return;
            }
            if (buffer is not null)
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
            batch = pending is Task<FlushResult> flush ? AfterFlush(flush.Result, batch) : Written(batch);
        }
        catch (Exception ex) when (ex is InvalidOperationException or IOException or ObjectDisposedException or OperationCanceledException or SocketException)
        {
            OnWriteFailed(batch);
            return;
        }
        finally
        {
            _stall = null;
            stall.TrySetResult();
        }
        Pump(batch);
    }

    /// <summary>After a flush: <see cref="Written"/>, unless the connection is closed.</summary>
    private List<Frame>? AfterFlush(FlushResult result, List<Frame>? batch)
    {
        if (result.IsCanceled || result.IsCompleted)
        {
            throw new IOException("the connection is closed");
        }
        return Written(batch);
    }

    /// <summary>Hands the written batch back to the socket and returns the next one it has ready, if any.</summary>
    private List<Frame>? Written(List<Frame>? batch) => batch is null ? null : _owner!.OnBatchWritten(this, batch);

    private void OnWriteFailed(List<Frame>? batch)
    {
        lock (this)
        {
            _pong = null;
            _close = null;
            _queued = null;
            StopPumpingLocked();
        }
        if (_owner is { } owner)
        {
            if (batch is not null)
            {
                owner.OnBatchWritten(this, batch);
            }
            owner.OnTransportError(this, CloseReason.TransportError);
        }
        _connection.Abort();
    }

    private void StopPumpingLocked()
    {
        _pumping = false;
        if (_finished && !_outputCompleted)
        {
            // The receive loop ended while a write was under way; the pipe is completed by its last writer.
            _outputCompleted = true;
            _output.Complete();
        }
    }

    private void WriteBatch(List<Frame> batch)
    {
        foreach (var frame in CollectionsMarshal.AsSpan(batch))
        {
            var length = FrameLength(frame);
            if (length > 0)
            {
                _output.Advance(WriteFrame(_output.GetSpan(length), frame));
            }
        }
    }

    // A close packet is no frame of its own: Shutdown sends a close frame instead, once the batch is out.
    private static int FrameLength(in Frame frame) =>
        frame.IsClose ? 0 : WebSocketFrame.HeaderLength(frame.Data.Length) + frame.Data.Length;

    /// <summary>Writes the packet as one WebSocket frame (nothing for a close packet); the bytes written.</summary>
    private static int WriteFrame(Span<byte> destination, in Frame frame)
    {
        if (frame.IsClose)
        {
            return 0;
        }
        var payload = frame.Data.Span;
        var headerLength = WebSocketFrame.WriteHeader(destination, frame.IsBinary ? WebSocketOpcode.Binary : WebSocketOpcode.Text, payload.Length);
        payload.CopyTo(destination[headerLength..]);
        return headerLength + payload.Length;
    }

    public override void Shutdown(bool graceful)
    {
        if (!graceful)
        {
            _connection.Abort();
            return;
        }
        // Normal closure; the client answers with its own close frame, which ends the receive loop. One that does
        // not answer is cut off so the connection cannot linger.
        lock (this)
        {
            if (_finished)
            {
                // The receive loop has ended (the peer closed or vanished): no close handshake left to make.
                return;
            }
        }
        SendClose(CloseStatus.NormalClosure);
        _ = AbortUnlessClosedAsync();
    }

    private async Task AbortUnlessClosedAsync()
    {
        try
        {
            await ReceiveLoop.WaitAsync(CloseHandshakeTimeout).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            _connection.Abort();
        }
    }

    /// <summary>Starts the receive loop; the task ends with the connection.</summary>
    public Task Start(EngineIOSocket socket)
    {
        return RunAsync(socket);
    }

    /// <summary>Reads frames until the connection ends; messages go to <paramref name="socket"/>.</summary>
    private async Task RunAsync(EngineIOSocket socket)
    {
        var input = _connection.Transport.Input;
        ushort closeStatus = 0;
        try
        {
            while (closeStatus == 0)
            {
                if (_stall is { } stall)
                {
                    // The peer does not read what it is sent: read nothing more from it until it does (or the
                    // write times out and the connection is cut).
                    Interlocked.Increment(ref ReadPauses);
                    await stall.Task.ConfigureAwait(false);
                    continue;
                }
                var result = await input.ReadAsync().ConfigureAwait(false);
                var buffer = result.Buffer;
                var paused = false;
                while (closeStatus == 0)
                {
                    if (_stall is not null)
                    {
                        // Stalled while this read is being handled: keep the rest for after the stall.
                        paused = true;
                        break;
                    }
                    // Only for fragmented or very large messages; most connections never need one.
                    var message = _assembler;
                    if (message is { IsStreaming: true })
                    {
                        // The rest of a large frame: copy what has arrived.
                        buffer = buffer.Slice(message.AppendStreamed(buffer));
                        if (message.IsStreaming)
                        {
                            break;
                        }
                        message.FinishStreamed();
                        if (!message.InProgress)
                        {
                            closeStatus = await DispatchAssembledAsync(socket, message).ConfigureAwait(false);
                        }
                        continue;
                    }
                    var status = WebSocketFrame.TryReadHeader(buffer, _maxPayload, out var header);
                    if (status == FrameParseStatus.Incomplete)
                    {
                        break;
                    }
                    if (status != FrameParseStatus.Ok)
                    {
                        closeStatus = status == FrameParseStatus.TooLarge ? CloseStatus.MessageTooBig : CloseStatus.ProtocolError;
                        break;
                    }
                    if (buffer.Length < header.FrameLength)
                    {
                        if (header.PayloadLength <= InPlaceFrameLimit)
                        {
                            break;
                        }
                        message = _assembler ??= new MessageAssembler();
                        if (!message.BeginStreamed(header, _maxPayload))
                        {
                            closeStatus = message.TooLarge ? CloseStatus.MessageTooBig : CloseStatus.ProtocolError;
                            break;
                        }
                        buffer = buffer.Slice(header.HeaderLength);
                        continue;
                    }
                    var payload = buffer.Slice(header.HeaderLength, header.PayloadLength);
                    if (header.IsControl)
                    {
                        closeStatus = OnControlFrame(header, payload);
                    }
                    else if (header.Fin && header.Opcode != WebSocketOpcode.Continuation && message is not { InProgress: true })
                    {
                        closeStatus = await OnWholeMessageAsync(socket, header, payload).ConfigureAwait(false);
                    }
                    else
                    {
                        // A fragmented message: gather the pieces (rare; Node's and browsers' clients send whole frames).
                        message = _assembler ??= new MessageAssembler();
                        if (!message.Append(header, payload, _maxPayload, out var complete))
                        {
                            closeStatus = message.TooLarge ? CloseStatus.MessageTooBig : CloseStatus.ProtocolError;
                        }
                        else if (complete)
                        {
                            closeStatus = await DispatchAssembledAsync(socket, message).ConfigureAwait(false);
                        }
                    }
                    buffer = buffer.Slice(header.FrameLength);
                }
                // Paused: nothing more was examined, so the next read returns the rest at once.
                input.AdvanceTo(buffer.Start, paused ? buffer.Start : buffer.End);
                if ((result.IsCompleted || result.IsCanceled) && !paused)
                {
                    break;
                }
            }
            if (closeStatus is not (0 or CloseStatus.PeerClosed))
            {
                Log.DirectWebSocketRefused(_logger, socket.Id, closeStatus);
                SendClose(closeStatus);
                socket.Terminate(closeStatus == CloseStatus.MessageTooBig ? CloseReason.TransportError : CloseReason.ParseError, Frame.Close);
            }
        }
        catch (Exception ex) when (ex is IOException or ConnectionAbortedException or OperationCanceledException or ObjectDisposedException or InvalidOperationException)
        {
            Log.DirectWebSocketFailed(_logger, socket.Id, ex.GetType().Name);
        }
        finally
        {
            _assembler?.Dispose();
            lock (this)
            {
                _finished = true;
                if (!_pumping && !_outputCompleted)
                {
                    _outputCompleted = true;
                    _output.Complete();
                }
            }
            socket.OnWebSocketEnded(this);
            EndReceiveLoop();
        }
    }

    /// <summary>A message in one frame, the usual case.</summary>
    private ValueTask<ushort> OnWholeMessageAsync(EngineIOSocket socket, WebSocketFrameHeader header, ReadOnlySequence<byte> payload)
    {
        if (payload.IsSingleSegment)
        {
            // Unmasked in place: the pipe's memory is ours until AdvanceTo, and this frame is never read again.
            var data = MemoryMarshal.AsMemory(payload.First);
            WebSocketFrame.Unmask(data.Span, header.MaskKey, 0);
            return DispatchAsync(socket, header.Opcode, data);
        }
        var message = _assembler ??= new MessageAssembler();
        message.CopyWhole(header, payload);
        return DispatchAssembledAsync(socket, message);
    }

    private static async ValueTask<ushort> DispatchAssembledAsync(EngineIOSocket socket, MessageAssembler message)
    {
        try
        {
            return await DispatchAsync(socket, message.Opcode, message.Data).ConfigureAwait(false);
        }
        finally
        {
            message.Reset();
        }
    }

    private static ValueTask<ushort> DispatchAsync(EngineIOSocket socket, WebSocketOpcode opcode, Memory<byte> data)
    {
        if (!socket.IsOpen)
        {
            // Closing: what still arrives before the client's close frame is dropped, as Node does.
            return ValueTask.FromResult<ushort>(0);
        }
        if (opcode == WebSocketOpcode.Binary)
        {
            var binary = socket.OnBinaryMessageAsync(data);
            return binary.IsCompletedSuccessfully ? ValueTask.FromResult<ushort>(0) : AwaitBinaryAsync(binary);
        }
        if (!System.Text.Unicode.Utf8.IsValid(data.Span))
        {
            return ValueTask.FromResult(CloseStatus.InvalidPayload);
        }
        var text = socket.OnTextPacketAsync(data);
        if (text.IsCompletedSuccessfully)
        {
            return ValueTask.FromResult(text.Result ? (ushort)0 : CloseStatus.PeerClosed);
        }
        return AwaitTextAsync(text);

        static async ValueTask<ushort> AwaitBinaryAsync(ValueTask pending)
        {
            await pending.ConfigureAwait(false);
            return 0;
        }

        static async ValueTask<ushort> AwaitTextAsync(ValueTask<bool> pending) =>
            await pending.ConfigureAwait(false) ? (ushort)0 : CloseStatus.PeerClosed;
    }

    private ushort OnControlFrame(WebSocketFrameHeader header, ReadOnlySequence<byte> payload)
    {
        Span<byte> data = stackalloc byte[125];
        data = data[..(int)payload.Length];
        payload.CopyTo(data);
        WebSocketFrame.Unmask(data, header.MaskKey, 0);
        switch (header.Opcode)
        {
            case WebSocketOpcode.Ping:
                SendPong(data);
                return 0;
            case WebSocketOpcode.Close:
                if (!WebSocketFrame.IsValidClosePayload(data))
                {
                    return CloseStatus.ProtocolError;
                }
                // Answer with the same status (RFC 6455 §5.5.1) unless ours went first.
                SendClose(data.Length >= 2 ? BinaryPrimitives.ReadUInt16BigEndian(data) : CloseStatus.NormalClosure);
                return CloseStatus.PeerClosed;
            default:
                return 0;
        }
    }

    private static class CloseStatus
    {
        /// <summary>Not sent: the client closed, the loop ends quietly.</summary>
        public const ushort PeerClosed = 1;
        public const ushort NormalClosure = 1000;
        public const ushort ProtocolError = 1002;
        public const ushort InvalidPayload = 1007;
        public const ushort MessageTooBig = 1009;
    }
}
