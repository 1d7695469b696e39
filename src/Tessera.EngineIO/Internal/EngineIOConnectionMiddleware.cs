using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Primitives;
using Tessera.EngineIO.Internal.WebSockets;

namespace Tessera.EngineIO.Internal;

/// <summary>
/// Kestrel connection middleware of the direct WebSocket path. It reads the first request of each new
/// connection; a plain Engine.IO WebSocket handshake (no sid, EIO=4, nothing that needs the HTTP pipeline) is
/// answered here and the connection becomes the session's transport. Anything else — other paths, polling,
/// upgrades from polling, malformed or unusual requests — is handed to Kestrel's HTTP stack untouched.
/// </summary>
/// <remarks>
/// On a TLS endpoint it only ever sees decrypted bytes: placed in front of <c>UseHttps</c> (which is where
/// <c>KestrelServerOptions.UseEngineIODirectWebSockets</c> puts it, endpoint defaults running before an endpoint's
/// own <c>UseHttps</c>), it would read the raw socket, so there it hands every connection on untouched and a
/// plaintext handshake on the TLS port meets the TLS layer, never a 101.
/// </remarks>
internal sealed partial class EngineIOConnectionMiddleware(ConnectionDelegate next, EngineIOEndpoints endpoints, bool tlsEndpoint, string endpointName, ILogger logger, EngineIODirectWebSocketOptions options)
{
    // A connection that sends no complete head in this time is closed (a slowloris, or a client gone quiet).
    private readonly TimeSpan _headTimeout = options.RequestHeadTimeout;

    // Connections per address still sending their first head; null when unbounded.
    private readonly AddressLimiter? _pending = options.MaxPendingRequestHeadsPerAddress is > 0 and var max ? new AddressLimiter(max) : null;

    // Set once the middleware finds itself in front of the endpoint's TLS layer (see remarks).
    private volatile bool _beforeTls;

    public Task OnConnectionAsync(ConnectionContext connection)
    {
        if (endpoints.IsEmpty || _beforeTls)
        {
            return next(connection);
        }
        if (connection.Features.Get<ITlsHandshakeFeature>() is null && tlsEndpoint)
        {
            // A TLS endpoint, yet no TLS on this connection: the middleware runs before UseHttps.
            OnBeforeTls();
            return next(connection);
        }
        // The connection lives as long as the returned task: after the head, that is the session's own task, so while
        // the session runs nothing of this method's state is kept (an awaiting state machine would be 176 B a connection).
        var handled = HandleAsync(connection);
        return handled.IsCompletedSuccessfully ? handled.Result : handled.Unwrap();
    }

    private void OnBeforeTls()
    {
        if (!_beforeTls)
        {
            _beforeTls = true;
            Log.BeforeTls(logger, endpointName);
        }
    }

    /// <summary>Reads the first head; the task it gives is the rest of the connection (the session, or Kestrel's HTTP).</summary>
    private async Task<Task> HandleAsync(ConnectionContext connection)
    {
        var address = (connection.RemoteEndPoint as IPEndPoint)?.Address;
        if (_pending is not null && !_pending.TryAcquire(address))
        {
            Log.TooManyPendingHeads(logger, _pending.Limit);
            connection.Abort(new ConnectionAbortedException("Too many connections from this address still sending their request head."));
            return Task.CompletedTask;
        }
        try
        {
            var match = await ReadHandshakeAsync(connection).ConfigureAwait(false);
            if (match.TimedOut)
            {
                Log.HeadTimedOut(logger, (long)_headTimeout.TotalMilliseconds);
                connection.Abort(new ConnectionAbortedException("No complete request head in time."));
                return Task.CompletedTask;
            }
            return Start(connection, (match.Request, match.Server, match.Query));
        }
        finally
        {
            _pending?.Release(address);
        }
    }

    private Task Start(ConnectionContext connection, (UpgradeRequest? Request, EngineIOServer? Server, Dictionary<string, StringValues>? Query) match) =>
        match.Request is null ? next(connection) : match.Server!.StartDirect(connection, match.Request, match.Query!, options.WriteToSocket);

    /// <summary>
    /// Reads until the first request head is complete. On a match the head is consumed; otherwise nothing is,
    /// and Kestrel reads the same bytes again.
    /// </summary>
    private async ValueTask<(UpgradeRequest? Request, EngineIOServer? Server, Dictionary<string, StringValues>? Query, bool TimedOut)> ReadHandshakeAsync(ConnectionContext connection)
    {
        var input = connection.Transport.Input;
        CancellationTokenSource? timeout = null;
        try
        {
            while (true)
            {
                if (!input.TryRead(out var result))
                {
                    timeout ??= new CancellationTokenSource(_headTimeout);
                    try
                    {
                        result = await input.ReadAsync(timeout.Token).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException) when (timeout.IsCancellationRequested)
                    {
                        return (null, null, null, true);
                    }
                }
                var buffer = result.Buffer;
                var headLength = UpgradeRequest.FindHeadLength(buffer);
                if (headLength < 0)
                {
                    if (result.IsCompleted || buffer.Length >= UpgradeRequest.MaxHeadLength || !StartsLikeGet(buffer))
                    {
                        if (StartsLikeTls(buffer) && connection.Features.Get<ITlsHandshakeFeature>() is null)
                        {
                            // A TLS ClientHello in clear: this endpoint's TLS layer comes after the middleware, though
                            // the endpoint did not say it was TLS. Step aside for good.
                            OnBeforeTls();
                        }
                        input.AdvanceTo(buffer.Start);
                        return default;
                    }
                    input.AdvanceTo(buffer.Start, buffer.End);
                    continue;
                }
                var match = headLength <= UpgradeRequest.MaxHeadLength
                    ? Match(buffer.Slice(0, headLength), (connection.RemoteEndPoint as IPEndPoint)?.Address)
                    : default;
                input.AdvanceTo(match.Item1 is null ? buffer.Start : buffer.GetPosition(headLength));
                return (match.Item1, match.Item2, match.Item3, false);
            }
        }
        finally
        {
            timeout?.Dispose();
        }
    }

    private static bool StartsLikeGet(ReadOnlySequence<byte> buffer)
    {
        Span<byte> start = stackalloc byte[4];
        var length = (int)Math.Min(buffer.Length, 4);
        buffer.Slice(0, length).CopyTo(start);
        return "GET "u8.StartsWith(start[..length]);
    }

    /// <summary>A TLS handshake record (content type 22, version 3.x) where a request head was expected.</summary>
    private static bool StartsLikeTls(ReadOnlySequence<byte> buffer)
    {
        Span<byte> start = stackalloc byte[2];
        if (buffer.Length < 2)
        {
            return false;
        }
        buffer.Slice(0, 2).CopyTo(start);
        return start[0] == 0x16 && start[1] == 0x03;
    }

    private (UpgradeRequest?, EngineIOServer?, Dictionary<string, StringValues>?) Match(ReadOnlySequence<byte> head, IPAddress? remote)
    {
        var request = UpgradeRequest.TryParse(head.IsSingleSegment ? head.FirstSpan : head.ToArray());
        if (request is null || endpoints.Find(request.Path) is not { } server)
        {
            return default;
        }
        var query = QueryHelpers.ParseQuery(request.QueryString);
        return server.TryTakeDirect(request, query, remote) ? (request, server, query) : default;
    }

    private static partial class Log
    {
        [LoggerMessage(103, LogLevel.Warning, "The direct WebSocket path runs before UseHttps on {Endpoint}, so it is off there (WebSocket handshakes take the HTTP stack). Call UseEngineIODirectWebSockets() after UseHttps() on that endpoint to use it.", EventName = "DirectPathBeforeTls")]
        public static partial void BeforeTls(ILogger logger, string endpoint);

        [LoggerMessage(105, LogLevel.Debug, "Connection closed: its address already has {Limit} connections still sending their request head.", EventName = "TooManyPendingHeads")]
        public static partial void TooManyPendingHeads(ILogger logger, int limit);

        [LoggerMessage(106, LogLevel.Debug, "Connection closed: no complete request head within {Milliseconds} ms.", EventName = "RequestHeadTimedOut")]
        public static partial void HeadTimedOut(ILogger logger, long milliseconds);
    }
}
