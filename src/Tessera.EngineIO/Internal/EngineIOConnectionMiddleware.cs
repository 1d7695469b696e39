using System.Buffers;
using System.IO.Pipelines;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.Primitives;
using Tessera.EngineIO.Internal.WebSockets;

namespace Tessera.EngineIO.Internal;

/// <summary>
/// Kestrel connection middleware of the direct WebSocket path. It reads the first request of each new
/// connection; a plain Engine.IO WebSocket handshake (no sid, EIO=4, nothing that needs the HTTP pipeline) is
/// answered here and the connection becomes the session's transport. Anything else — other paths, polling,
/// upgrades from polling, malformed or unusual requests — is handed to Kestrel's HTTP stack untouched.
/// </summary>
internal sealed class EngineIOConnectionMiddleware(ConnectionDelegate next, EngineIOEndpoints endpoints)
{
    // A connection that sends no complete head in this time goes to Kestrel, whose own timeouts then apply.
    private static readonly TimeSpan HeadTimeout = TimeSpan.FromSeconds(10);

    public Task OnConnectionAsync(ConnectionContext connection) =>
        endpoints.IsEmpty ? next(connection) : HandleAsync(connection);

    private async Task HandleAsync(ConnectionContext connection)
    {
        // The handshake is passed on without a local of its own, so while the session runs this method's state
        // (kept alive by the await) holds nothing of it.
        var session = Start(connection, await ReadHandshakeAsync(connection.Transport.Input).ConfigureAwait(false));
        await session.ConfigureAwait(false);
    }

    private Task Start(ConnectionContext connection, (UpgradeRequest? Request, EngineIOServer? Server, Dictionary<string, StringValues>? Query) match) =>
        match.Request is null ? next(connection) : match.Server!.StartDirect(connection, match.Request, match.Query!);

    /// <summary>
    /// Reads until the first request head is complete. On a match the head is consumed; otherwise nothing is,
    /// and Kestrel reads the same bytes again.
    /// </summary>
    private async ValueTask<(UpgradeRequest?, EngineIOServer?, Dictionary<string, StringValues>?)> ReadHandshakeAsync(PipeReader input)
    {
        CancellationTokenSource? timeout = null;
        try
        {
            while (true)
            {
                if (!input.TryRead(out var result))
                {
                    timeout ??= new CancellationTokenSource(HeadTimeout);
                    try
                    {
                        result = await input.ReadAsync(timeout.Token).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException) when (timeout.IsCancellationRequested)
                    {
                        return default;
                    }
                }
                var buffer = result.Buffer;
                var headLength = UpgradeRequest.FindHeadLength(buffer);
                if (headLength < 0)
                {
                    if (result.IsCompleted || buffer.Length >= UpgradeRequest.MaxHeadLength || !StartsLikeGet(buffer))
                    {
                        input.AdvanceTo(buffer.Start);
                        return default;
                    }
                    input.AdvanceTo(buffer.Start, buffer.End);
                    continue;
                }
                var match = headLength <= UpgradeRequest.MaxHeadLength ? Match(buffer.Slice(0, headLength)) : default;
                input.AdvanceTo(match.Item1 is null ? buffer.Start : buffer.GetPosition(headLength));
                return match;
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

    private (UpgradeRequest?, EngineIOServer?, Dictionary<string, StringValues>?) Match(ReadOnlySequence<byte> head)
    {
        var request = UpgradeRequest.TryParse(head.IsSingleSegment ? head.FirstSpan : head.ToArray());
        if (request is null || endpoints.Find(request.Path) is not { } server)
        {
            return default;
        }
        var query = QueryHelpers.ParseQuery(request.QueryString);
        return server.CanServeDirect(request, query) ? (request, server, query) : default;
    }
}
