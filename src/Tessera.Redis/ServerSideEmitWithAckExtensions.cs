using System.Text.Json;
using Tessera.Redis.Internal;

namespace Tessera.SocketIO;

/// <summary>
/// Server-side events that wait for the other nodes' answers (Node's <c>serverSideEmitWithAck</c>), over the Redis
/// adapters of <c>AddRedisAdapter</c>, classic or sharded.
/// </summary>
public static class ServerSideEmitWithAckExtensions
{
    /// <summary>
    /// Sends an event to every other node's <see cref="SocketIONamespace.OnServerSideEmit"/> handler and collects one
    /// answer (<see cref="SocketIOServerSideEvent.Ack"/>) from each, Tessera and Node nodes alike, waiting at most
    /// <see cref="Tessera.Redis.RedisOptions.RequestsTimeout"/> (Node's <c>requestsTimeout</c>). Alone, or while
    /// Redis is away, there is nobody to answer: the list is empty.
    /// </summary>
    /// <returns>One <see cref="SocketIOArgs"/> per other node, holding the value it answered (null for none).</returns>
    /// <exception cref="SocketIOAckTimeoutException">Some nodes did not answer in time; <see cref="SocketIOAckTimeoutException.Responses"/> holds the answers that came.</exception>
    /// <exception cref="ArgumentException">An argument holds binary, which server-side events do not carry.</exception>
    /// <exception cref="NotSupportedException">The namespace's adapter reaches other nodes but is not a Redis adapter.</exception>
    public static Task<IReadOnlyList<SocketIOArgs>> ServerSideEmitWithAckAsync(this SocketIONamespace ns, string eventName, params object?[] args) =>
        EmitAsync(ns, null, eventName, args);

    /// <summary>
    /// <see cref="ServerSideEmitWithAckAsync(SocketIONamespace, string, object?[])"/> waiting at most
    /// <paramref name="timeout"/> (Node's <c>io.timeout(ms).serverSideEmit(…, callback)</c>).
    /// </summary>
    /// <exception cref="SocketIOAckTimeoutException">Some nodes did not answer in time; <see cref="SocketIOAckTimeoutException.Responses"/> holds the answers that came.</exception>
    /// <exception cref="ArgumentException">An argument holds binary, which server-side events do not carry.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="timeout"/> is not positive.</exception>
    /// <exception cref="NotSupportedException">The namespace's adapter reaches other nodes but is not a Redis adapter.</exception>
    public static Task<IReadOnlyList<SocketIOArgs>> ServerSideEmitWithAckAsync(this SocketIONamespace ns, TimeSpan timeout, string eventName, params object?[] args)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(timeout, TimeSpan.Zero);
        return EmitAsync(ns, timeout, eventName, args);
    }

    /// <summary>The same as <see cref="ServerSideEmitWithAckAsync(SocketIONamespace, string, object?[])"/> on the main namespace.</summary>
    /// <exception cref="SocketIOAckTimeoutException">Some nodes did not answer in time; <see cref="SocketIOAckTimeoutException.Responses"/> holds the answers that came.</exception>
    /// <exception cref="ArgumentException">An argument holds binary, which server-side events do not carry.</exception>
    /// <exception cref="NotSupportedException">The namespace's adapter reaches other nodes but is not a Redis adapter.</exception>
    public static Task<IReadOnlyList<SocketIOArgs>> ServerSideEmitWithAckAsync(this SocketIOServer io, string eventName, params object?[] args)
    {
        ArgumentNullException.ThrowIfNull(io);
        return EmitAsync(io.Sockets, null, eventName, args);
    }

    /// <summary>The same as <see cref="ServerSideEmitWithAckAsync(SocketIONamespace, TimeSpan, string, object?[])"/> on the main namespace.</summary>
    /// <exception cref="SocketIOAckTimeoutException">Some nodes did not answer in time; <see cref="SocketIOAckTimeoutException.Responses"/> holds the answers that came.</exception>
    /// <exception cref="ArgumentException">An argument holds binary, which server-side events do not carry.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="timeout"/> is not positive.</exception>
    /// <exception cref="NotSupportedException">The namespace's adapter reaches other nodes but is not a Redis adapter.</exception>
    public static Task<IReadOnlyList<SocketIOArgs>> ServerSideEmitWithAckAsync(this SocketIOServer io, TimeSpan timeout, string eventName, params object?[] args)
    {
        ArgumentNullException.ThrowIfNull(io);
        return io.Sockets.ServerSideEmitWithAckAsync(timeout, eventName, args);
    }

    private static Task<IReadOnlyList<SocketIOArgs>> EmitAsync(SocketIONamespace ns, TimeSpan? timeout, string eventName, object?[] args)
    {
        ArgumentNullException.ThrowIfNull(ns);
        ArgumentException.ThrowIfNullOrEmpty(eventName);
        ArgumentNullException.ThrowIfNull(args);
        var options = ns.Server.Options.SerializerOptions;
        var values = args.Select(a => JsonSerializer.SerializeToElement(a, options)).ToArray();
        // Binary serialises as attachment placeholders, which no other node could resolve.
        if (values.Any(HasPlaceholder))
        {
            throw new ArgumentException("ServerSideEmitWithAckAsync carries JSON only (as Node's cluster adapters): binary arguments cannot reach other nodes.", nameof(args));
        }
        return ns.Adapter switch
        {
            IServerSideEmitWithAck redis => redis.ServerSideEmitWithAckAsync(eventName, values, timeout ?? redis.DefaultTimeout),
            { ReachesOtherNodes: false } => Task.FromResult<IReadOnlyList<SocketIOArgs>>([]),
            _ => throw new NotSupportedException($"{ns.Adapter.GetType().Name} does not gather answers to server-side events; the Redis adapters do."),
        };
    }

    private static bool HasPlaceholder(JsonElement element) => element.ValueKind switch
    {
        JsonValueKind.Object => (element.TryGetProperty("_placeholder", out var flag) && flag.ValueKind == JsonValueKind.True && element.TryGetProperty("num", out _))
            || element.EnumerateObject().Any(p => HasPlaceholder(p.Value)),
        JsonValueKind.Array => element.EnumerateArray().Any(HasPlaceholder),
        _ => false,
    };
}
