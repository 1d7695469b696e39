using System.Buffers;
using System.Buffers.Text;
using System.Collections.Concurrent;
using System.IO.Pipelines;
using System.Net;
using System.Net.WebSockets;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;
using Microsoft.Extensions.Logging;
using Tessera.EngineIO.Internal.Transports;
using Tessera.EngineIO.Internal.WebSockets;

namespace Tessera.EngineIO.Internal;

/// <summary>
/// One Engine.IO endpoint: request verification (in Node's order), handshakes, and dispatch to the transports.
/// </summary>
internal sealed partial class EngineIOServer
{
    private static readonly byte[] OkBody = "ok"u8.ToArray();

    private readonly ConcurrentDictionary<string, EngineIOSocket> _clients = new(StringComparer.Ordinal);
    private readonly EngineIOHandler _handler;
    private readonly ILogger _logger;
    private readonly byte[] _openSuffixPolling;
    private readonly byte[] _openSuffixWebSocket;
    private readonly AddressLimiter? _addresses;
    private readonly HandshakeRateLimiter? _handshakeRate;

    public EngineIOServer(EngineIOOptions options, EngineIOHandler handler, ILogger logger, EngineIOMetrics? metrics = null)
    {
        options.Validate();
        Options = options;
        Metrics = metrics ?? new EngineIOMetrics(null);
        _handler = handler;
        _logger = logger;
        var canUpgrade = options.AllowUpgrades && options.Transports.HasFlag(EngineIOTransports.WebSocket);
        _openSuffixPolling = OpenSuffix(options, canUpgrade ? "[\"websocket\"]" : "[]");
        _openSuffixWebSocket = OpenSuffix(options, "[]");
        _addresses = options.MaxConnectionsPerAddress is > 0 and var limit ? new AddressLimiter(limit) : null;
        // The burst is never below MaxConnectionsPerAddress: every session that may be open at once can be opened
        // at once (a page of 1,000 clients behind one address reconnecting together), only then the rate applies.
        _handshakeRate = options.MaxHandshakesPerSecondPerAddress is > 0 and var rate
            ? new HandshakeRateLimiter(rate, Math.Max(2 * rate, options.MaxConnectionsPerAddress ?? 0))
            : null;
    }

    public EngineIOOptions Options { get; }

    internal EngineIOMetrics Metrics { get; }

    public int ClientsCount => _clients.Count;

    /// <summary>Sessions open per client address, when <see cref="EngineIOOptions.MaxConnectionsPerAddress"/> is set.</summary>
    internal AddressLimiter? Addresses => _addresses;

    /// <summary>Diagnostic hook: a GET was parked for the session with this id (tests await it instead of sleeping).</summary>
    internal Action<string>? PollParked { get; set; }

    // The open packet is `0{"sid":"…","upgrades":[…],"pingInterval":…,"pingTimeout":…,"maxPayload":…}`;
    // everything after the sid is the same for every session of the endpoint.
    private static byte[] OpenSuffix(EngineIOOptions o, string upgrades) => Encoding.UTF8.GetBytes(
        $"\",\"upgrades\":{upgrades},\"pingInterval\":{(long)o.PingInterval.TotalMilliseconds},\"pingTimeout\":{(long)o.PingTimeout.TotalMilliseconds},\"maxPayload\":{o.MaxPayload}}}");

    private static byte[] OpenPacket(string sid, byte[] suffix)
    {
        ReadOnlySpan<byte> prefix = "0{\"sid\":\""u8;
        var packet = new byte[prefix.Length + sid.Length + suffix.Length];
        prefix.CopyTo(packet);
        Encoding.ASCII.GetBytes(sid, packet.AsSpan(prefix.Length));
        suffix.CopyTo(packet.AsSpan(prefix.Length + sid.Length));
        return packet;
    }

    private static string NewId() => RandomIds.New();

    public void CloseAll(CloseReason reason)
    {
        foreach (var socket in _clients.Values)
        {
            socket.CloseGracefully(reason);
        }
    }

    /// <summary>
    /// Closes every session as <see cref="CloseAll"/> does, then waits (at most <paramref name="timeout"/>) for the
    /// WebSocket close handshakes to end, so that they finish before Kestrel starts to stop its connections.
    /// </summary>
    public async Task CloseAllAsync(CloseReason reason, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var loops = new List<Task>();
        foreach (var socket in _clients.Values)
        {
            if (socket.CurrentTransport is WebSocketTransport ws)
            {
                loops.Add(ws.ReceiveLoop);
            }
        }
        CloseAll(reason);
        try
        {
            await Task.WhenAll(loops).WaitAsync(timeout, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is TimeoutException or OperationCanceledException)
        {
            // A client that does not answer its close frame in time is the transports' own business (they abort it
            // after their own bound); ReceiveLoop tasks never fault.
        }
    }

    public async Task HandleRequestAsync(HttpContext context)
    {
        try
        {
            await HandleCoreAsync(context).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or WebSocketException or ConnectionAbortedException)
        {
            // The client went away mid-request: nothing to answer.
            Log.RequestAborted(_logger, ex.GetType().Name);
        }
        catch (Exception ex)
        {
            Log.RequestFailed(_logger, ex);
            if (!context.Response.HasStarted)
            {
                context.Response.StatusCode = StatusCodes.Status500InternalServerError;
            }
        }
    }

    private async Task HandleCoreAsync(HttpContext context)
    {
        var request = context.Request;
        var cors = Options.Cors;
        if (cors is not null && HttpMethods.IsOptions(request.Method))
        {
            Cors.WritePreflight(context, cors);
            return;
        }

        var query = request.Query;
        var transport = query["transport"];
        var isPolling = transport == "polling" && Options.Transports.HasFlag(EngineIOTransports.Polling);
        var isWebSocket = transport == "websocket" && Options.Transports.HasFlag(EngineIOTransports.WebSocket);
        if (!isPolling && !isWebSocket)
        {
            await WriteErrorAsync(context, ErrorCode.TransportUnknown).ConfigureAwait(false);
            return;
        }
        var isUpgrade = context.WebSockets.IsWebSocketRequest;
        var sid = query["sid"].ToString();
        if (sid.Length > 0)
        {
            if (!_clients.TryGetValue(sid, out var socket))
            {
                await WriteErrorAsync(context, ErrorCode.SessionIdUnknown).ConfigureAwait(false);
                return;
            }
            if (isWebSocket && isUpgrade)
            {
                await HandleUpgradeAsync(context, socket).ConfigureAwait(false);
                return;
            }
            if (!isPolling || socket.Transport != "polling")
            {
                await WriteErrorAsync(context, ErrorCode.BadRequest).ConfigureAwait(false);
                return;
            }
            if (HttpMethods.IsGet(request.Method))
            {
                await HandlePollAsync(context, socket).ConfigureAwait(false);
            }
            else if (HttpMethods.IsPost(request.Method))
            {
                await HandlePostAsync(context, socket).ConfigureAwait(false);
            }
            else
            {
                await WriteErrorAsync(context, ErrorCode.BadRequest).ConfigureAwait(false);
            }
            return;
        }

        if (!HttpMethods.IsGet(request.Method))
        {
            await WriteErrorAsync(context, ErrorCode.BadHandshakeMethod).ConfigureAwait(false);
            return;
        }
        if (isWebSocket && !isUpgrade)
        {
            await WriteErrorAsync(context, ErrorCode.BadRequest).ConfigureAwait(false);
            return;
        }
        if (Options.AllowRequest is { } allowRequest)
        {
            var decision = await allowRequest(context).ConfigureAwait(false);
            if (!decision.IsAllowed)
            {
                Log.HandshakeRefused(_logger, decision.StatusCode);
                await WriteErrorAsync(context, ErrorCode.Forbidden, decision.StatusCode, decision.Message).ConfigureAwait(false);
                return;
            }
        }
        // EIO=3 only when allowed. Node takes anything but 4 (even none, or "abc") for the third revision; here an
        // unknown or missing version is refused either way, so a v4 client that mistypes it is told so.
        var version = query["EIO"];
        var protocol = version == "4" ? 4 : version == "3" && Options.AllowEIO3 ? 3 : 0;
        if (protocol == 0)
        {
            await WriteErrorAsync(context, ErrorCode.UnsupportedProtocolVersion).ConfigureAwait(false);
            return;
        }
        if (isWebSocket)
        {
            await HandshakeWebSocketAsync(context, protocol).ConfigureAwait(false);
        }
        else
        {
            await HandshakePollingAsync(context, protocol).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Opens a session on its first transport, the same way for all three handshakes (polling, WebSocket through
    /// Kestrel's HTTP stack, the direct WebSocket path): registered, the open packet first in its queue (a WebSocket
    /// writes it at once; over polling the handshake GET takes it), the heartbeat started, and only then the
    /// handler's <see cref="EngineIOHandler.OnOpenAsync"/>, so nothing the handler sends can overtake the open packet.
    /// </summary>
    private ValueTask OpenSessionAsync(EngineIOSocket socket)
    {
        Register(socket);
        var suffix = socket.Transport == "polling" ? _openSuffixPolling : _openSuffixWebSocket;
        socket.Enqueue(new Frame(OpenPacket(socket.Id, suffix), false));
        socket.Open();
        return DispatchOpenAsync(socket);
    }

    /// <summary>The session cookie (Options.Cookie), as Node's engine.io sets it on the handshake response.</summary>
    private void AppendCookie(HttpContext context, string id)
    {
        if (Options.Cookie is { } cookie)
        {
            context.Response.Cookies.Append(cookie.Name, id, CookieOptions(cookie, context.Request.IsHttps));
        }
    }

    private static CookieOptions CookieOptions(EngineIOCookieOptions cookie, bool secure) => new()
    {
        Path = cookie.Path,
        HttpOnly = cookie.HttpOnly,
        SameSite = cookie.SameSite,
        Secure = secure,
    };

    private EngineIOSocket Register(EngineIOSocket socket)
    {
        _clients[socket.Id] = socket;
        Log.SessionOpened(_logger, socket.Id, socket.Transport);
        return socket;
    }

    /// <summary>
    /// Whether the direct path may answer this handshake itself; otherwise Kestrel's HTTP stack does. When it may,
    /// a slot of <see cref="EngineIOOptions.MaxConnectionsPerAddress"/> has been taken for <paramref name="remote"/>,
    /// which <see cref="StartDirect"/> then owns. A client address over its limit goes to the HTTP stack too, which
    /// refuses it with the usual 429.
    /// </summary>
    internal bool TryTakeDirect(UpgradeRequest request, Dictionary<string, StringValues> query, IPAddress? remote) =>
        Options.Transports.HasFlag(EngineIOTransports.WebSocket)
        && Options.AllowRequest is null
        && !(Options.PerMessageDeflate && request.OffersExtensions)
        && query.TryGetValue("transport", out var transport) && transport == "websocket"
        && query.TryGetValue("EIO", out var version) && version == "4"
        && !query.ContainsKey("sid")
        && !HasForwardedHeaders(request)
        && TryAdmit(remote) == Admission.Admitted;

    private enum Admission
    {
        Admitted,
        TooManyOpen,
        TooManyPerSecond,
    }

    /// <summary>
    /// Takes a session slot for <paramref name="remote"/> (MaxConnectionsPerAddress), then a handshake token
    /// (MaxHandshakesPerSecondPerAddress), giving the slot back if there is no token: a refusal consumes nothing, so
    /// a direct-path refusal that the HTTP path then answers with its 429 is counted once.
    /// </summary>
    private Admission TryAdmit(IPAddress? remote)
    {
        if (_addresses is not null && !_addresses.TryAcquire(remote))
        {
            return Admission.TooManyOpen;
        }
        if (_handshakeRate is null || _handshakeRate.TryAcquire(remote))
        {
            return Admission.Admitted;
        }
        _addresses?.Release(remote);
        return Admission.TooManyPerSecond;
    }

    /// <summary>
    /// A handshake that came through a proxy (Forwarded, X-Forwarded-*): the client's address and scheme are for
    /// the app's forwarded-headers middleware to decide, which runs only on the HTTP path.
    /// </summary>
    private static bool HasForwardedHeaders(UpgradeRequest request)
    {
        foreach (var (name, _) in request.Headers)
        {
            if (name.StartsWith("X-Forwarded-", StringComparison.OrdinalIgnoreCase)
                || name.Equals("Forwarded", StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>
    /// A WebSocket handshake taken by the direct path (see <see cref="TryTakeDirect"/>): answers 101 and returns
    /// the session's receive loop, which ends with the connection. Not async itself, so that no state of its own
    /// stays alive for the connection's lifetime.
    /// </summary>
    internal Task StartDirect(ConnectionContext connection, UpgradeRequest request, Dictionary<string, StringValues> query, bool writeToSocket = true)
    {
        var transport = new DirectWebSocketTransport(connection, Options, _logger, writeToSocket);
        EngineIOSocket? socket = null;
        ValueTask opened;
        try
        {
            var id = NewId();
            var isSecure = connection.Features.Get<ITlsHandshakeFeature>() is not null;
            string? setCookie = null;
            if (Options.Cookie is { } cookie)
            {
                setCookie = CookieOptions(cookie, isSecure).CreateCookieHeader(cookie.Name, id).ToString();
            }
            // The 101 and the open packet leave in one write: the open packet's send carries both.
            transport.WriteUpgradeResponse(request.Key, setCookie);
            var handshake = new EngineIOHandshake(request.Headers, query, connection.RemoteEndPoint, request.Path, isSecure);
            socket = new EngineIOSocket(this, id, handshake, transport);
            transport.Attach(socket);
            opened = OpenSessionAsync(socket);
        }
        catch (Exception ex)
        {
            Log.RequestFailed(_logger, ex);
            if (socket is not null && _clients.ContainsKey(socket.Id))
            {
                // Registered: closing it gives its address slot back.
                socket.Terminate(CloseReason.TransportError, Frame.Close, gracefulTransport: false);
            }
            else
            {
                _addresses?.Release((connection.RemoteEndPoint as IPEndPoint)?.Address);
            }
            connection.Abort();
            return Task.CompletedTask;
        }
        return opened.IsCompletedSuccessfully ? transport.Start(socket) : RunAfterOpenAsync(opened, transport, socket);

        static async Task RunAfterOpenAsync(ValueTask opened, DirectWebSocketTransport transport, EngineIOSocket socket)
        {
            await opened.ConfigureAwait(false);
            await transport.Start(socket).ConfigureAwait(false);
        }
    }

    /// <summary>Takes a session slot for the client's address; false (and the 429 written) when it has none left.</summary>
    private async ValueTask<bool> TryAcquireAddressAsync(HttpContext context)
    {
        switch (TryAdmit(context.Connection.RemoteIpAddress))
        {
            case Admission.Admitted:
                return true;
            case Admission.TooManyOpen:
                Log.TooManyConnections(_logger, _addresses!.Limit);
                break;
            default:
                Log.TooManyHandshakes(_logger, _handshakeRate!.PerSecond);
                break;
        }
        await WriteErrorAsync(context, ErrorCode.Forbidden, StatusCodes.Status429TooManyRequests, "Too many connections").ConfigureAwait(false);
        return false;
    }

    private async Task HandshakePollingAsync(HttpContext context, int protocol)
    {
        if (!await TryAcquireAddressAsync(context).ConfigureAwait(false))
        {
            return;
        }
        // From here the slot belongs to the session, given back when it closes (OnSocketClosed). A v3 client that asks
        // for b64 (any non-empty value, as Node reads it) gets binary as base64 text.
        var supportsBinary = string.IsNullOrEmpty(context.Request.Query["b64"]);
        var socket = new EngineIOSocket(this, NewId(), new EngineIOHandshake(context), new PollingTransport(), protocol, supportsBinary);
        AppendCookie(context, socket.Id);
        await OpenSessionAsync(socket).ConfigureAwait(false);
        // The handshake GET is the session's first poll: it takes the open packet waiting in the queue.
        await HandlePollAsync(context, socket).ConfigureAwait(false);
    }

    private static readonly TimeSpan V3OpenPacketDelay = TimeSpan.FromMilliseconds(5);

    private async Task HandshakeWebSocketAsync(HttpContext context, int protocol)
    {
        if (!await TryAcquireAddressAsync(context).ConfigureAwait(false))
        {
            return;
        }
        WebSocket webSocket;
        var id = NewId();
        try
        {
            ApplyCors(context);
            AppendCookie(context, id);
            webSocket = await AcceptAsync(context).ConfigureAwait(false);
        }
        catch
        {
            _addresses?.Release(context.Connection.RemoteIpAddress);
            throw;
        }
        if (protocol == 3)
        {
            // A v3 client gets no ping to rescue a lost open packet, and Node's ws emits a message that came in the same
            // read as the 101 before an `await`ed "open" resumes (the public v3 suite attaches its listener that way).
            // Node's server writes the open packet a little after the 101; so does this, by a moment the client
            // needs to read the 101 on its own.
            await Task.Delay(V3OpenPacketDelay, context.RequestAborted).ConfigureAwait(false);
        }
        var transport = new ManagedWebSocketTransport(webSocket, Options, _logger);
        var socket = new EngineIOSocket(this, id, new EngineIOHandshake(context), transport, protocol);
        await OpenSessionAsync(socket).ConfigureAwait(false);
        await transport.RunAsync(socket, probing: false).ConfigureAwait(false);
    }

    private async Task HandleUpgradeAsync(HttpContext context, EngineIOSocket socket)
    {
        if (!socket.TryBeginUpgrade())
        {
            // Already upgraded, upgrading, or on WebSocket from the start: Node accepts the WebSocket and closes it
            // at once (a 400 here makes Node's ws client throw). The session itself carries on.
            Log.UpgradeIgnored(_logger, socket.Id);
            ApplyCors(context);
            using var ignored = await AcceptAsync(context).ConfigureAwait(false);
            await ManagedWebSocketTransport.RefuseAsync(ignored).ConfigureAwait(false);
            return;
        }
        WebSocket webSocket;
        try
        {
            ApplyCors(context);
            webSocket = await AcceptAsync(context).ConfigureAwait(false);
        }
        catch
        {
            socket.AbortUpgrade();
            throw;
        }
        await new ManagedWebSocketTransport(webSocket, Options, _logger).RunAsync(socket, probing: true).ConfigureAwait(false);
    }

    private Task<WebSocket> AcceptAsync(HttpContext context) =>
        context.WebSockets.AcceptWebSocketAsync(new WebSocketAcceptContext
        {
            DangerousEnableCompression = Options.PerMessageDeflate,
            // Engine.IO's own heartbeat watches the connection; WebSocket pings would only add traffic.
            KeepAliveInterval = TimeSpan.Zero,
        });

    private async Task HandlePollAsync(HttpContext context, EngineIOSocket socket)
    {
        var start = socket.BeginPoll(out var parked, out var batch);
        if (start is not (EngineIOSocket.PollStart.Parked or EngineIOSocket.PollStart.Immediate))
        {
            await RefusePollingAsync(context, socket, start, "GET").ConfigureAwait(false);
            return;
        }
        if (parked is not null)
        {
            PollParked?.Invoke(socket.Id);
            using (context.RequestAborted.UnsafeRegister(static (state, _) =>
            {
                var (s, p) = ((EngineIOSocket, PendingPoll))state!;
                s.OnPollAborted(p);
                p.TrySetCanceled();
            }, (socket, parked)))
            {
                try
                {
                    batch = await parked.Task.ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
        try
        {
            await WritePollResponseAsync(context, socket, batch!).ConfigureAwait(false);
        }
        finally
        {
            socket.OnPollWritten(batch!);
        }
    }

    /// <summary>A polling request the session cannot take: closed, upgraded, or overlapping another one.</summary>
    private Task RefusePollingAsync(HttpContext context, EngineIOSocket socket, EngineIOSocket.PollStart start, string method)
    {
        switch (start)
        {
            case EngineIOSocket.PollStart.Closed:
                return WriteErrorAsync(context, ErrorCode.SessionIdUnknown);
            case EngineIOSocket.PollStart.Overlap:
                // Two GETs (or POSTs) at once: Node closes the session; a parked GET gets the close packet.
                Log.Overlap(_logger, socket.Id, method);
                socket.Terminate(CloseReason.TransportError, Frame.Close);
                return WriteErrorAsync(context, ErrorCode.BadRequest);
            default:
                return WriteErrorAsync(context, ErrorCode.BadRequest);
        }
    }

    private async Task WritePollResponseAsync(HttpContext context, EngineIOSocket socket, List<Frame> batch)
    {
        var response = context.Response;
        response.StatusCode = StatusCodes.Status200OK;
        ApplyCors(context);
        var frames = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(batch);
        // One write for the whole batch.
        if (socket.Protocol == 3)
        {
            var binary = PayloadV3.UsesBinaryEncoding(frames, socket.SupportsBinary);
            response.ContentType = binary ? "application/octet-stream" : "text/plain; charset=UTF-8";
            response.ContentLength = PayloadV3.Length(frames, binary);
            PayloadV3.Write(response.BodyWriter, frames, binary);
        }
        else
        {
            response.ContentType = "text/plain; charset=UTF-8";
            response.ContentLength = PacketParser.PayloadLength(frames);
            PacketParser.WritePayload(response.BodyWriter, frames);
        }
        await response.BodyWriter.FlushAsync(context.RequestAborted).ConfigureAwait(false);
    }

    private async Task HandlePostAsync(HttpContext context, EngineIOSocket socket)
    {
        var start = socket.BeginPost();
        if (start != EngineIOSocket.PollStart.Parked)
        {
            await RefusePollingAsync(context, socket, start, "POST").ConfigureAwait(false);
            return;
        }
        byte[]? body = null;
        var result = EngineIOSocket.PayloadResult.Ok;
        try
        {
            var length = await ReadBodyAsync(context, Options.MaxPayload).ConfigureAwait(false);
            if (length.Buffer is null)
            {
                Log.PayloadTooLarge(_logger, socket.Id, length.Length);
                socket.Terminate(CloseReason.TransportError, Frame.Close);
                context.Response.StatusCode = StatusCodes.Status413PayloadTooLarge;
                ApplyCors(context);
                return;
            }
            body = length.Buffer;
            // v3 clients post binary payloads as application/octet-stream (Node reads the type the same way).
            var binaryBody = string.Equals(context.Request.ContentType, "application/octet-stream", StringComparison.OrdinalIgnoreCase);
            result = await socket.OnPayloadAsync(body.AsMemory(0, length.Length), binaryBody).ConfigureAwait(false);
        }
        finally
        {
            socket.EndPost();
            if (body is not null)
            {
                ArrayPool<byte>.Shared.Return(body);
            }
        }
        if (result == EngineIOSocket.PayloadResult.Malformed)
        {
            Log.ParseError(_logger, socket.Id);
            await WriteErrorAsync(context, ErrorCode.BadRequest).ConfigureAwait(false);
            return;
        }
        var response = context.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "text/html";
        ApplyCors(context);
        response.ContentLength = OkBody.Length;
        await response.Body.WriteAsync(OkBody, context.RequestAborted).ConfigureAwait(false);
    }

    /// <summary>Reads the request body into a pooled buffer; a null buffer means it exceeded <paramref name="limit"/>.</summary>
    private static async Task<(byte[]? Buffer, int Length)> ReadBodyAsync(HttpContext context, int limit)
    {
        var declared = context.Request.ContentLength;
        if (declared > limit)
        {
            return (null, (int)Math.Min(declared.Value, int.MaxValue));
        }
        var reader = context.Request.BodyReader;
        while (true)
        {
            var read = await reader.ReadAsync(context.RequestAborted).ConfigureAwait(false);
            var buffer = read.Buffer;
            if (buffer.Length > limit)
            {
                reader.AdvanceTo(buffer.Start, buffer.End);
                return (null, (int)Math.Min(buffer.Length, int.MaxValue));
            }
            if (read.IsCompleted || read.IsCanceled)
            {
                var length = (int)buffer.Length;
                var copy = ArrayPool<byte>.Shared.Rent(Math.Max(1, length));
                buffer.CopyTo(copy);
                reader.AdvanceTo(buffer.End);
                return (copy, length);
            }
            reader.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    private void ApplyCors(HttpContext context)
    {
        if (Options.Cors is { } cors)
        {
            Cors.Apply(context, cors);
        }
    }

    private Task WriteErrorAsync(HttpContext context, ErrorCode code, int status = 0, string? message = null)
    {
        Log.BadRequest(_logger, (int)code, context.Request.Method);
        var response = context.Response;
        if (status == 0)
        {
            status = code == ErrorCode.Forbidden ? StatusCodes.Status403Forbidden : StatusCodes.Status400BadRequest;
        }
        response.StatusCode = status;
        response.ContentType = "application/json";
        // Node answers errors with permissive CORS headers so a browser can read why it was refused.
        var origin = context.Request.Headers.Origin;
        if (!Microsoft.Extensions.Primitives.StringValues.IsNullOrEmpty(origin))
        {
            response.Headers.AccessControlAllowOrigin = origin;
            response.Headers.AccessControlAllowCredentials = "true";
        }
        else
        {
            response.Headers.AccessControlAllowOrigin = "*";
        }
        var writer = new ArrayBufferWriter<byte>(64);
        using (var json = new System.Text.Json.Utf8JsonWriter(writer))
        {
            json.WriteStartObject();
            json.WriteNumber("code", (int)code);
            json.WriteString("message", message ?? Errors.Message(code));
            json.WriteEndObject();
        }
        response.ContentLength = writer.WrittenCount;
        return response.Body.WriteAsync(writer.WrittenMemory, context.RequestAborted).AsTask();
    }

    private async ValueTask DispatchOpenAsync(EngineIOSocket socket)
    {
        try
        {
            await _handler.OnOpenAsync(socket).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            Log.HandlerFailed(_logger, nameof(EngineIOHandler.OnOpenAsync), socket.Id, ex);
        }
    }

    internal async ValueTask DispatchMessageAsync(EngineIOSocket socket, EngineIOMessage message)
    {
        Metrics.MessagesIn.Add(1);
        Metrics.BytesIn.Add(message.Data.Length);
        try
        {
            await _handler.OnMessageAsync(socket, message).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            Log.HandlerFailed(_logger, nameof(EngineIOHandler.OnMessageAsync), socket.Id, ex);
        }
    }

    internal void OnSocketClosed(EngineIOSocket socket, CloseReason reason)
    {
        if (_clients.TryRemove(new KeyValuePair<string, EngineIOSocket>(socket.Id, socket)))
        {
            _addresses?.Release(socket.Handshake.RemoteAddress);
        }
        Log.SessionClosed(_logger, socket.Id, reason.ToNodeString());
        _ = DispatchCloseAsync(socket, reason.ToNodeString());
    }

    /// <summary>A session closed as a slow consumer (<see cref="EngineIOSocket.CloseAsSlowConsumer"/>).</summary>
    internal void OnSlowConsumer(EngineIOSocket socket, long bytes)
    {
        Metrics.SlowConsumers.Add(1);
        Log.SlowConsumer(_logger, socket.Id, bytes);
    }

    private async Task DispatchCloseAsync(EngineIOSocket socket, string reason)
    {
        try
        {
            await _handler.OnCloseAsync(socket, reason).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            Log.HandlerFailed(_logger, nameof(EngineIOHandler.OnCloseAsync), socket.Id, ex);
        }
    }
}
