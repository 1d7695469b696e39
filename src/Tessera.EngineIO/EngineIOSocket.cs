using System.Buffers;
using Tessera.EngineIO.Internal;
using Tessera.EngineIO.Internal.Transports;

namespace Tessera.EngineIO;

/// <summary>
/// One Engine.IO session: it outlives transports (polling, then WebSocket after an upgrade), buffers what the
/// transport cannot take yet, and keeps the heartbeat. Kept small: an idle session is this object, its timer,
/// its transport and two short lists.
/// </summary>
public sealed class EngineIOSocket
{
    private enum SocketState : byte
    {
        Open,
        Closing,
        Closed,
    }

    private enum UpgradeState : byte
    {
        None,
        Probing,
        Probed,
    }

    private readonly Lock _lock = new();
    private readonly EngineIOServer _server;
    private Transport _transport;
    // Starts empty (no array): an idle session holds no buffer space.
    private List<Frame> _buffer = [];
    private List<Frame>? _spare;
    // Bytes of the frames in _buffer, and of the batch a transport is writing (the list, to know it when it comes
    // back): together bounded by EngineIOOptions.MaxBufferedBytes.
    private long _bufferedBytes;
    private List<Frame>? _inFlight;
    private long _inFlightBytes;
    private SocketState _state;
    private UpgradeState _upgrade;
    private bool _awaitingPong;
    // When the current heartbeat round's pong is due (Environment.TickCount64): the last pong (or the open) +
    // pingInterval + pingTimeout, fixed by the schedule, so a timer that fires late does not extend it.
    private long _pongDeadline;
    private Timer? _heartbeat;
    private CloseReason? _closingReason;

    internal EngineIOSocket(EngineIOServer server, string id, EngineIOHandshake handshake, Transport transport, int protocol = 4, bool supportsBinary = true)
    {
        _server = server;
        Id = id;
        Handshake = handshake;
        _transport = transport;
        Protocol = protocol;
        SupportsBinary = supportsBinary;
    }

    /// <summary>
    /// The Engine.IO protocol revision the client speaks: 4, or 3 (socket.io-client 2.x, accepted with
    /// <see cref="EngineIOOptions.AllowEIO3"/>). Version 3 clients ping the server, and take Socket.IO protocol v4 packets.
    /// </summary>
    public int Protocol { get; }

    /// <summary>
    /// v3 polling only: whether the client takes binary payloads (it did not ask for <c>b64</c>); otherwise binary
    /// travels as base64 text.
    /// </summary>
    internal bool SupportsBinary { get; }

    /// <summary>The session id (<c>sid</c>).</summary>
    public string Id { get; }

    /// <summary>What the request that opened the session carried (headers, query, address, user).</summary>
    public EngineIOHandshake Handshake { get; }

    /// <summary>"polling" or "websocket".</summary>
    public string Transport
    {
        get
        {
            lock (_lock)
            {
                return _transport.Name;
            }
        }
    }

    /// <summary>The transport carrying the session now (tests and diagnostics).</summary>
    internal Transport CurrentTransport
    {
        get
        {
            lock (_lock)
            {
                return _transport;
            }
        }
    }

    /// <summary>
    /// Whether the session is open. False once it starts closing (from either side, or by ping timeout), after which
    /// <see cref="Send"/> drops messages.
    /// </summary>
    public bool IsOpen => _state == SocketState.Open;

    /// <summary>A slot for the layer above (Socket.IO keeps its client here), so it needs no lookup table.</summary>
    public object? Context { get; set; }

    /// <summary>
    /// Queues a message. False if the session is closing or closed (the message is dropped), or if the client has
    /// left <see cref="EngineIOOptions.MaxBufferedBytes"/> unread: the session is then closed as a slow consumer.
    /// </summary>
    public bool Send(in EngineIOOutgoingMessage message)
    {
        if (!Enqueue(ToFrame(message)))
        {
            return false;
        }
        _server.Metrics.MessagesOut.Add(1);
        _server.Metrics.BytesOut.Add(message.Length);
        return true;
    }

    /// <summary>
    /// Sends only if the transport can take the message right now (nothing queued, a GET parked or the WebSocket
    /// idle); otherwise drops it. For data where the latest value matters more than every value.
    /// </summary>
    public bool SendVolatile(in EngineIOOutgoingMessage message)
    {
        IFrameSink? sink;
        List<Frame>? batch;
        lock (_lock)
        {
            if (_state != SocketState.Open || _buffer.Count > 0 || !_transport.CanWriteLocked)
            {
                return false;
            }
            AddLocked(ToFrame(message));
            batch = TakeBatchLocked(out sink);
        }
        sink?.Deliver(this, batch!);
        _server.Metrics.MessagesOut.Add(1);
        _server.Metrics.BytesOut.Add(message.Length);
        return true;
    }

    /// <summary>
    /// The frame a message travels as. In v3 a binary message starts with its packet type byte (4) on every transport
    /// (Node's parser-v3); v4 sends the bytes as they are.
    /// </summary>
    private Frame ToFrame(in EngineIOOutgoingMessage message)
    {
        if (!message.IsBinary || Protocol != 3)
        {
            return new Frame(message.Encoded, message.IsBinary);
        }
        var data = new byte[1 + message.Encoded.Length];
        data[0] = (byte)PacketType.Message;
        message.Encoded.Span.CopyTo(data.AsSpan(1));
        return new Frame(data, true);
    }

    /// <summary>
    /// Closes the session: packets already queued are sent, then over polling a close packet; a WebSocket is
    /// closed with a close frame (no Engine.IO close packet, as Node).
    /// </summary>
    public void Close() => CloseGracefully(CloseReason.ForcedClose);

    internal bool Enqueue(Frame frame)
    {
        IFrameSink? sink;
        List<Frame>? batch;
        long queued;
        lock (_lock)
        {
            if (_state != SocketState.Open)
            {
                return false;
            }
            queued = _bufferedBytes + _inFlightBytes;
            if (queued == 0 || queued + frame.Data.Length <= _server.Options.MaxBufferedBytes)
            {
                AddLocked(frame);
                batch = TakeBatchLocked(out sink);
                queued = -1;
            }
            else
            {
                batch = null;
                sink = null;
            }
        }
        if (queued >= 0)
        {
            // The client does not take what it is sent: the frame is dropped and the session ends.
            CloseAsSlowConsumer(null, queued + frame.Data.Length);
            return false;
        }
        sink?.Deliver(this, batch!);
        return true;
    }

    /// <summary>Bytes queued for the client and not yet written, the batch being written included.</summary>
    internal long BufferedBytes
    {
        get
        {
            lock (_lock)
            {
                return _bufferedBytes + _inFlightBytes;
            }
        }
    }

    /// <summary>
    /// The client does not read what it is sent (its queue passed MaxBufferedBytes, or a write stalled past
    /// WriteTimeout): the session ends as "transport error", its transport cut off (a close frame would only queue
    /// behind the rest). <paramref name="transport"/>, when given, must still be the session's.
    /// </summary>
    internal void CloseAsSlowConsumer(Transport? transport, long bytes)
    {
        lock (_lock)
        {
            if (transport is not null && !ReferenceEquals(_transport, transport))
            {
                return;
            }
        }
        Terminate(CloseReason.TransportError, Frame.Close, gracefulTransport: false, slowConsumerBytes: bytes);
    }

    private void AddLocked(Frame frame)
    {
        _buffer.Add(frame);
        _bufferedBytes += frame.Data.Length;
    }

    /// <summary>Hands the whole buffer out as a batch; the transport gives it back when it is written.</summary>
    private List<Frame> TakeBufferLocked(int capacity = 1)
    {
        var batch = _buffer;
        _buffer = _spare ?? new List<Frame>(capacity);
        _spare = null;
        _inFlight = batch;
        _inFlightBytes = _bufferedBytes;
        _bufferedBytes = 0;
        return batch;
    }

    /// <summary>A batch came back written (or failed): its bytes no longer count.</summary>
    private void BatchDoneLocked(List<Frame> batch)
    {
        if (ReferenceEquals(batch, _inFlight))
        {
            _inFlight = null;
            _inFlightBytes = 0;
        }
        RecycleLocked(batch);
    }

    private List<Frame>? TakeBatchLocked(out IFrameSink? sink)
    {
        sink = null;
        if (_buffer.Count == 0 || _state == SocketState.Closed)
        {
            return null;
        }
        sink = _transport.TryReserveLocked();
        return sink is null ? null : TakeBufferLocked();
    }

    private void RecycleLocked(List<Frame> batch)
    {
        batch.Clear();
        // A list that grew for a burst is let go, so an idle session holds two one-slot lists at most.
        if (batch.Capacity <= 2)
        {
            _spare = batch;
        }
    }

    private static bool EndsWithClose(List<Frame> batch) =>
        batch.Count > 0 && batch[^1].EndsSession;

    internal void Open()
    {
        lock (_lock)
        {
            _pongDeadline = NextPongDeadline();
            // v4: the server pings after pingInterval. v3: the client pings; the session ends when none came within
            // pingInterval + pingTimeout (Node's resetPingTimeout), so the timer only watches that deadline.
            var first = Protocol == 3 ? _server.Options.PingInterval + _server.Options.PingTimeout : _server.Options.PingInterval;
            _heartbeat = new Timer(static s => ((EngineIOSocket)s!).OnHeartbeatTimer(), this, first, Timeout.InfiniteTimeSpan);
        }
    }

    private void OnHeartbeatTimer()
    {
        CloseReason? closeWith = null;
        IFrameSink? sink = null;
        List<Frame>? batch = null;
        lock (_lock)
        {
            switch (_state)
            {
                case SocketState.Closed:
                    return;
                case SocketState.Closing:
                    // The close packet never found a way out (no GET came for it): give up waiting.
                    closeWith = _closingReason ?? CloseReason.ForcedClose;
                    break;
                case SocketState.Open when Protocol == 3:
                    var left = _pongDeadline - Environment.TickCount64;
                    if (left <= 0)
                    {
                        closeWith = CloseReason.PingTimeout;
                        break;
                    }
                    // A ping came since the timer was set: wait for the new deadline.
                    _heartbeat?.Change(TimeSpan.FromMilliseconds(left), Timeout.InfiniteTimeSpan);
                    break;
                default:
                    if (_awaitingPong)
                    {
                        closeWith = CloseReason.PingTimeout;
                        break;
                    }
                    _awaitingPong = true;
                    AddLocked(Frame.Ping);
                    batch = TakeBatchLocked(out sink);
                    var now = Environment.TickCount64;
                    if (sink is not null)
                    {
                        // The ping leaves now: the client gets pingTimeout from now even if this timer ran late
                        // (a starved thread pool delays timers by half a second). A ping that has to wait for a GET
                        // keeps the scheduled deadline, as Node's, which starts when the ping is queued.
                        _pongDeadline = Math.Max(_pongDeadline, now + (long)_server.Options.PingTimeout.TotalMilliseconds);
                    }
                    _heartbeat?.Change(TimeSpan.FromMilliseconds(Math.Max(0, _pongDeadline - now)), Timeout.InfiniteTimeSpan);
                    break;
            }
        }
        if (closeWith is { } why)
        {
            Terminate(why, Frame.Close);
            return;
        }
        sink?.Deliver(this, batch!);
    }

    /// <summary>v3: the client's ping is answered with a pong, and moves the session's deadline.</summary>
    private void OnClientPing()
    {
        lock (_lock)
        {
            if (_state != SocketState.Open)
            {
                return;
            }
            // The timer is left alone: when it fires it sees the new deadline and waits for it (no timer change per ping).
            _pongDeadline = NextPongDeadline();
        }
        Enqueue(Frame.Pong);
    }

    private void OnPong()
    {
        lock (_lock)
        {
            if (_awaitingPong && _state == SocketState.Open)
            {
                _awaitingPong = false;
                _pongDeadline = NextPongDeadline();
                _heartbeat?.Change(_server.Options.PingInterval, Timeout.InfiniteTimeSpan);
            }
        }
    }

    /// <summary>Server-side close: flush what is queued, then the close packet (polling only, see <see cref="Frame.IsClose"/>), then end.</summary>
    internal void CloseGracefully(CloseReason reason)
    {
        IFrameSink? sink;
        List<Frame>? batch;
        lock (_lock)
        {
            if (_state != SocketState.Open)
            {
                return;
            }
            _state = SocketState.Closing;
            _closingReason = reason;
            AddLocked(Frame.Close);
            // Bound the wait for a polling client to come and collect the close packet.
            _heartbeat?.Change(_server.Options.PingTimeout, Timeout.InfiniteTimeSpan);
            sink = _transport.TryReserveLocked();
            batch = sink is null ? null : TakeBufferLocked();
        }
        sink?.Deliver(this, batch!);
    }

    /// <summary>
    /// Ends the session at once. A parked GET receives <paramref name="lastWord"/> (Node sends a close packet
    /// when the server ends the session, a noop when the client did), a WebSocket is closed.
    /// </summary>
    /// <param name="reason">Why the session ends.</param>
    /// <param name="lastWord">What a parked GET receives.</param>
    /// <param name="gracefulTransport">Whether a WebSocket gets a close handshake rather than being cut off.</param>
    /// <param name="slowConsumerBytes">Set when the session ends as a slow consumer: the bytes it left unread.</param>
    /// <returns>False when the session was already closed.</returns>
    internal bool Terminate(CloseReason reason, Frame lastWord, bool gracefulTransport = true, long slowConsumerBytes = -1)
    {
        Transport transport;
        IFrameSink? pollSink = null;
        lock (_lock)
        {
            if (_state == SocketState.Closed)
            {
                return false;
            }
            _state = SocketState.Closed;
            _closingReason = reason;
            transport = _transport;
            if (transport is PollingTransport polling)
            {
                pollSink = polling.TryReserveLocked();
            }
            else if (transport is WebSocketTransport { IsWritingLocked: true, CanCloseWhileWriting: false })
            {
                // A send is in flight: a close frame cannot be written beside it.
                gracefulTransport = false;
            }
            _heartbeat?.Dispose();
            _heartbeat = null;
            _buffer.Clear();
            _bufferedBytes = 0;
            // A batch still in the transport's hands comes back (or not) on its own; it no longer counts.
            _inFlight = null;
            _inFlightBytes = 0;
        }
        pollSink?.Deliver(this, [lastWord]);
        transport.Shutdown(gracefulTransport);
        if (slowConsumerBytes >= 0)
        {
            // Counted before the handler hears of the close.
            _server.OnSlowConsumer(this, slowConsumerBytes);
        }
        _server.OnSocketClosed(this, reason);
        return true;
    }

    /// <summary>A transport's batch is out. Returns the next batch for the same sink, or null.</summary>
    internal List<Frame>? OnBatchWritten(Transport transport, List<Frame> batch)
    {
        var closed = EndsWithClose(batch);
        List<Frame>? next = null;
        CloseReason? reason = null;
        lock (_lock)
        {
            BatchDoneLocked(batch);
            if (closed)
            {
                reason = _closingReason ?? CloseReason.ForcedClose;
            }
            else if (ReferenceEquals(_transport, transport) && _state != SocketState.Closed && _buffer.Count > 0)
            {
                next = TakeBufferLocked();
            }
            if (next is null && transport is WebSocketTransport ws)
            {
                ws.ReleaseLocked();
            }
        }
        if (reason is { } why)
        {
            Terminate(why, Frame.Close);
        }
        return next;
    }

    internal void OnTransportError(Transport transport, CloseReason reason)
    {
        lock (_lock)
        {
            if (!ReferenceEquals(_transport, transport))
            {
                return;
            }
        }
        Terminate(reason, Frame.Close, gracefulTransport: false);
    }

    /// <summary>The WebSocket's receive loop ended (the peer closed it or the connection dropped).</summary>
    internal void OnWebSocketEnded(WebSocketTransport transport)
    {
        lock (_lock)
        {
            if (!ReferenceEquals(_transport, transport))
            {
                if (_upgrade != UpgradeState.None)
                {
                    _upgrade = UpgradeState.None;
                }
                return;
            }
        }
        Terminate(CloseReason.TransportClose, Frame.Close);
    }

    // ---- polling ----

    internal enum PollStart
    {
        Parked,
        Immediate,
        Closed,
        TransportMismatch,
        Overlap,
    }

    /// <summary>The pong is overdue even if the timer has not fired yet (timers run a little late).</summary>
    /// <remarks>
    /// Also when the ping itself is late (its timer has not fired yet): the public suite's polling ping-timeout case
    /// sleeps exactly pingInterval + pingTimeout after the handshake and expects the session gone.
    /// </remarks>
    private bool PongOverdueLocked() => _state == SocketState.Open && Environment.TickCount64 >= _pongDeadline;

    private long NextPongDeadline() =>
        Environment.TickCount64 + (long)(_server.Options.PingInterval + _server.Options.PingTimeout).TotalMilliseconds;

    /// <summary>Closes the session if its heartbeat deadline passed (or it is closed already); true when it is gone.</summary>
    private bool EndIfPongOverdue()
    {
        lock (_lock)
        {
            if (_state == SocketState.Closed)
            {
                return true;
            }
            if (!PongOverdueLocked())
            {
                return false;
            }
        }
        Terminate(CloseReason.PingTimeout, Frame.Close);
        return true;
    }

    internal PollStart BeginPoll(out PendingPoll? parked, out List<Frame>? batch)
    {
        parked = null;
        batch = null;
        if (EndIfPongOverdue())
        {
            return PollStart.Closed;
        }
        lock (_lock)
        {
            var check = CheckPollingLocked(out var polling, polling => polling.HasPendingPoll);
            if (check != PollStart.Parked)
            {
                return check;
            }
            if (_buffer.Count > 0)
            {
                batch = TakeBufferLocked(4);
                return PollStart.Immediate;
            }
            if (_upgrade == UpgradeState.Probed)
            {
                // The client is pausing polling to finish its upgrade: release it at once.
                batch = [Frame.Noop];
                return PollStart.Immediate;
            }
            parked = new PendingPoll();
            polling!.ParkLocked(parked);
            return PollStart.Parked;
        }
    }

    /// <summary>The parked GET's request was aborted by the client before anything was written to it.</summary>
    internal void OnPollAborted(PendingPoll poll)
    {
        lock (_lock)
        {
            if (_transport is not PollingTransport polling || !polling.TryUnparkLocked(poll))
            {
                return;
            }
        }
        Terminate(CloseReason.TransportError, Frame.Noop);
    }

    /// <summary>A GET wrote its batch.</summary>
    internal void OnPollWritten(List<Frame> batch)
    {
        var closed = EndsWithClose(batch);
        lock (_lock)
        {
            BatchDoneLocked(batch);
        }
        if (closed)
        {
            Terminate(_closingReason ?? CloseReason.ForcedClose, Frame.Close);
        }
    }

    internal PollStart BeginPost()
    {
        if (Protocol == 3 && EndIfPongOverdue())
        {
            // A v3 client's ping that comes after its deadline finds the session gone (Node's timer has closed it).
            return PollStart.Closed;
        }
        lock (_lock)
        {
            var check = CheckPollingLocked(out var polling, polling => polling.PostInFlight);
            if (check == PollStart.Parked)
            {
                polling!.PostInFlight = true;
            }
            return check;
        }
    }

    /// <summary>Whether a polling request may proceed: Parked if so, else why not.</summary>
    private PollStart CheckPollingLocked(out PollingTransport? polling, Func<PollingTransport, bool> busy)
    {
        polling = _transport as PollingTransport;
        if (_state == SocketState.Closed)
        {
            return PollStart.Closed;
        }
        if (polling is null)
        {
            return PollStart.TransportMismatch;
        }
        return busy(polling) ? PollStart.Overlap : PollStart.Parked;
    }

    internal void EndPost()
    {
        lock (_lock)
        {
            if (_transport is PollingTransport polling)
            {
                polling.PostInFlight = false;
            }
        }
    }

    // ---- upgrade ----

    internal bool TryBeginUpgrade()
    {
        lock (_lock)
        {
            if (_state != SocketState.Open || _transport is not PollingTransport || _upgrade != UpgradeState.None)
            {
                return false;
            }
            _upgrade = UpgradeState.Probing;
            return true;
        }
    }

    /// <summary>The probe succeeded: a parked GET gets a noop so the client can pause polling.</summary>
    internal void OnProbed()
    {
        IFrameSink? sink = null;
        lock (_lock)
        {
            if (_upgrade != UpgradeState.Probing)
            {
                return;
            }
            _upgrade = UpgradeState.Probed;
            if (_buffer.Count == 0 && _transport is PollingTransport polling)
            {
                sink = polling.TryReserveLocked();
            }
        }
        sink?.Deliver(this, [Frame.Noop]);
        if (sink is null)
        {
            Flush();
        }
    }

    internal bool CompleteUpgrade(WebSocketTransport webSocket)
    {
        IFrameSink? oldSink = null;
        IFrameSink? sink;
        List<Frame>? batch;
        lock (_lock)
        {
            if (_state != SocketState.Open || _upgrade == UpgradeState.None || _transport is not PollingTransport polling)
            {
                return false;
            }
            oldSink = polling.TryReserveLocked();
            _transport = webSocket;
            _upgrade = UpgradeState.None;
            batch = TakeBatchLocked(out sink);
        }
        oldSink?.Deliver(this, [Frame.Noop]);
        sink?.Deliver(this, batch!);
        return true;
    }

    internal void AbortUpgrade()
    {
        lock (_lock)
        {
            _upgrade = UpgradeState.None;
        }
    }

    private void Flush()
    {
        IFrameSink? sink;
        List<Frame>? batch;
        lock (_lock)
        {
            batch = TakeBatchLocked(out sink);
        }
        sink?.Deliver(this, batch!);
    }

    // ---- incoming packets ----

    /// <summary>Handles one text packet from either transport. False when the packet is malformed (the session is closed).</summary>
    internal async ValueTask<bool> OnTextPacketAsync(ReadOnlyMemory<byte> packet)
    {
        if (!PacketParser.TryParseText(packet.Span, out var type, out _))
        {
            Terminate(CloseReason.ParseError, Frame.Close);
            return false;
        }
        switch (type)
        {
            case PacketType.Message:
                await _server.DispatchMessageAsync(this, new EngineIOMessage(packet[1..], isBinary: false)).ConfigureAwait(false);
                return true;
            case PacketType.Pong when Protocol == 3:
                // Node: "invalid heartbeat direction".
                Terminate(CloseReason.TransportError, Frame.Close);
                return false;
            case PacketType.Pong:
                OnPong();
                return true;
            case PacketType.Close:
                OnClientClose();
                return false;
            case PacketType.Ping when Protocol == 3:
                OnClientPing();
                return true;
            case PacketType.Ping:
                // In v4 only the server pings; a client ping is a protocol error (Node: "invalid heartbeat direction").
                Terminate(CloseReason.TransportError, Frame.Close);
                return false;
            default:
                // open, upgrade and noop carry nothing once the session is established.
                return true;
        }
    }

    /// <summary>
    /// How long a polling session closed by the client waits for a GET that was sent beside the close POST. Node
    /// handles requests in arrival order, so a GET sent just before the POST is parked first; Kestrel may start
    /// the POST first (seen in 1 of 5 tries on loopback, ~0.25 ms apart), which would answer that GET 400.
    /// </summary>
    private static readonly TimeSpan ClientCloseGrace = TimeSpan.FromMilliseconds(100);

    /// <summary>The client said goodbye: a parked GET is released with a noop, as Node does.</summary>
    private void OnClientClose()
    {
        lock (_lock)
        {
            if (_state == SocketState.Open && _transport is PollingTransport { HasPendingPoll: false })
            {
                // No GET parked yet: the next one within the grace gets the noop, then the session ends (the
                // heartbeat timer ends it if none comes). Nothing else is sent or received meanwhile.
                _state = SocketState.Closing;
                _closingReason = CloseReason.TransportClose;
                _buffer.Clear();
                _bufferedBytes = 0;
                AddLocked(Frame.ClientCloseNoop);
                _heartbeat?.Change(ClientCloseGrace, Timeout.InfiniteTimeSpan);
                return;
            }
        }
        Terminate(CloseReason.TransportClose, Frame.Noop);
    }

    /// <summary>A binary WebSocket message. In v3 it starts with its packet type byte, which must be 4 (message).</summary>
    internal ValueTask OnBinaryMessageAsync(ReadOnlyMemory<byte> data)
    {
        if (Protocol == 3)
        {
            if (data.IsEmpty || data.Span[0] != (byte)PacketType.Message)
            {
                Terminate(CloseReason.ParseError, Frame.Close);
                return ValueTask.CompletedTask;
            }
            data = data[1..];
        }
        return DispatchBinaryAsync(data);
    }

    private ValueTask DispatchBinaryAsync(ReadOnlyMemory<byte> data) =>
        _server.DispatchMessageAsync(this, new EngineIOMessage(data, isBinary: true));

    internal enum PayloadResult
    {
        Ok,
        Closed,
        Malformed,
    }

    /// <summary>Parses and handles a polling POST body; a malformed one closes the session.</summary>
    internal async ValueTask<PayloadResult> OnPayloadAsync(ReadOnlyMemory<byte> payload, bool binaryBody = false)
    {
        var rest = payload;
        if (Protocol == 3 && payload.IsEmpty)
        {
            // Node's parser-v3 answers an empty payload with a parse error.
            Terminate(CloseReason.ParseError, Frame.Close);
            return PayloadResult.Malformed;
        }
        while (true)
        {
            ReadOnlyMemory<byte> data;
            bool isBinary;
            bool isBase64;
            if (Protocol == 3)
            {
                var malformed = false;
                var more = binaryBody
                    ? PayloadV3.TryReadBinary(ref rest, out var v3, out malformed)
                    : PayloadV3.TryReadText(ref rest, out v3, out malformed);
                if (malformed)
                {
                    Terminate(CloseReason.ParseError, Frame.Close);
                    return PayloadResult.Malformed;
                }
                if (!more)
                {
                    return PayloadResult.Ok;
                }
                (data, isBinary, isBase64) = (v3.Data, v3.IsBinary, v3.IsBase64);
            }
            else
            {
                if (!PacketParser.TryReadPayloadSegment(ref rest, out var segment))
                {
                    return PayloadResult.Ok;
                }
                isBinary = isBase64 = !segment.IsEmpty && segment.Span[0] == PacketParser.BinaryMarker;
                data = isBinary ? segment[1..] : segment;
            }
            if (_state != SocketState.Open)
            {
                // Closing: packets are dropped, as Node's "packet received with closed socket".
                return PayloadResult.Closed;
            }
            if (isBinary)
            {
                if (!await OnPayloadBinaryAsync(data, isBase64).ConfigureAwait(false))
                {
                    return PayloadResult.Malformed;
                }
            }
            else if (!await OnTextPacketAsync(data).ConfigureAwait(false))
            {
                return _closingReason == CloseReason.ParseError ? PayloadResult.Malformed : PayloadResult.Closed;
            }
        }
    }

    /// <summary>A binary message of a polling payload: raw bytes, or base64 to decode first. False when malformed.</summary>
    private async ValueTask<bool> OnPayloadBinaryAsync(ReadOnlyMemory<byte> data, bool isBase64)
    {
        if (!isBase64)
        {
            await DispatchBinaryAsync(data).ConfigureAwait(false);
            return true;
        }
        var buffer = ArrayPool<byte>.Shared.Rent(Math.Max(1, PacketParser.MaxDecodedLength(data.Length)));
        try
        {
            var length = PacketParser.DecodeBinarySegment(data.Span, buffer);
            if (length < 0)
            {
                Terminate(CloseReason.ParseError, Frame.Close);
                return false;
            }
            await DispatchBinaryAsync(buffer.AsMemory(0, length)).ConfigureAwait(false);
            return true;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
