using System.Collections.Immutable;
using Tessera.SocketIO.Internal;

namespace Tessera.SocketIO;

/// <summary>
/// Selects recipients (rooms, exceptions, flags) and acts on all of them through the namespace's adapter.
/// Immutable: each call returns a new operator. A broadcast is encoded once for all its recipients.
/// </summary>
public sealed class BroadcastOperator
{
    private readonly SocketIONamespace _ns;
    private readonly ImmutableHashSet<string> _rooms;
    private readonly ImmutableHashSet<string> _except;
    private readonly bool _volatile;
    private readonly bool _local;
    private readonly TimeSpan? _timeout;

    internal BroadcastOperator(SocketIONamespace ns)
        : this(ns, ImmutableHashSet<string>.Empty, ImmutableHashSet<string>.Empty, false, false, null)
    {
    }

    private BroadcastOperator(SocketIONamespace ns, ImmutableHashSet<string> rooms, ImmutableHashSet<string> except, bool isVolatile, bool local, TimeSpan? timeout)
    {
        _ns = ns;
        _rooms = rooms;
        _except = except;
        _volatile = isVolatile;
        _local = local;
        _timeout = timeout;
    }

    /// <summary>Also targets the sockets in <paramref name="room"/> (Node's <c>to</c>); a socket id targets that socket.</summary>
    public BroadcastOperator To(string room) => new(_ns, _rooms.Add(room), _except, _volatile, _local, _timeout);

    /// <summary>Also targets the sockets in any of <paramref name="rooms"/> (Node's <c>to([…])</c>).</summary>
    public BroadcastOperator To(IEnumerable<string> rooms) => new(_ns, _rooms.Union(rooms), _except, _volatile, _local, _timeout);

    /// <summary>Same as <see cref="To(string)"/> (Node's <c>in</c>).</summary>
    public BroadcastOperator In(string room) => To(room);

    /// <summary>Leaves out the sockets in <paramref name="room"/> (Node's <c>except</c>); a socket id leaves out that socket.</summary>
    public BroadcastOperator Except(string room) => new(_ns, _rooms, _except.Add(room), _volatile, _local, _timeout);

    /// <summary>Leaves out the sockets in any of <paramref name="rooms"/> (Node's <c>except([…])</c>).</summary>
    public BroadcastOperator Except(IEnumerable<string> rooms) => new(_ns, _rooms, _except.Union(rooms), _volatile, _local, _timeout);

    /// <summary>Clients that cannot take the packet right now miss it.</summary>
    public BroadcastOperator Volatile => new(_ns, _rooms, _except, true, _local, _timeout);

    /// <summary>This node only, even with a cluster adapter.</summary>
    public BroadcastOperator Local => new(_ns, _rooms, _except, _volatile, true, _timeout);

    /// <summary>How long <see cref="EmitWithAckAsync"/> waits for every recipient.</summary>
    public BroadcastOperator Timeout(TimeSpan timeout) => new(_ns, _rooms, _except, _volatile, _local, timeout);

    private BroadcastOptions Options => new() { Rooms = _rooms, Except = _except, Volatile = _volatile, Local = _local };

    /// <summary>The namespaces acted on: a dynamic (parent) namespace stands for all its children.</summary>
    private IEnumerable<SocketIONamespace> Targets => _ns.IsDynamic ? _ns.Children : [_ns];

    /// <summary>
    /// Sends an event to every selected socket (Node's <c>emit</c>), encoded once. Arguments: any JSON-serialisable
    /// values, byte[] for binary. Returns without waiting for the adapter; its failures are logged, not thrown.
    /// </summary>
    public void Emit(string eventName, params object?[] args)
    {
        foreach (var ns in Targets)
        {
            var packet = new SocketIOPacket(PacketWriter.RecordedEvent(ns, eventName, args, _rooms, _except, _volatile), -1);
            Observe(ns, ns.Adapter.BroadcastAsync(packet, Options));
        }
    }

    /// <summary>
    /// Emits and collects one acknowledgement per recipient. Throws <see cref="SocketIOAckTimeoutException"/>
    /// (with the responses received so far) if some do not answer within the timeout.
    /// </summary>
    public async Task<IReadOnlyList<SocketIOArgs>> EmitWithAckAsync(string eventName, params object?[] args)
    {
        var timeout = _timeout ?? _ns.Server.Options.AckTimeout;
        var responses = new List<SocketIOArgs>();
        var expectedClients = 0;
        var receivedReports = 0;
        var expectedReports = -1; // unknown until every adapter has said how many nodes will report
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var sync = new Lock();

        void Check()
        {
            if (expectedReports >= 0 && receivedReports >= expectedReports && responses.Count >= expectedClients)
            {
                done.TrySetResult();
            }
        }

        var reports = 0;
        foreach (var ns in Targets.ToArray())
        {
            var id = ns.NextAckId();
            var packet = new SocketIOPacket(PacketWriter.Event(ns, eventName, args, id), id);
            reports += await ns.Adapter.BroadcastWithAckAsync(packet, Options with { AckTimeout = timeout },
                count =>
                {
                    lock (sync)
                    {
                        expectedClients += count;
                        receivedReports++;
                        Check();
                    }
                },
                response =>
                {
                    lock (sync)
                    {
                        responses.Add(response);
                        Check();
                    }
                }).ConfigureAwait(false);
        }
        lock (sync)
        {
            expectedReports = reports;
            Check();
        }
        try
        {
            await done.Task.WaitAsync(timeout).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            lock (sync)
            {
                throw new SocketIOAckTimeoutException([.. responses], expectedClients);
            }
        }
        lock (sync)
        {
            return [.. responses];
        }
    }

    /// <summary>
    /// Snapshots of the selected sockets (Node's <c>fetchSockets</c>), from every node unless <see cref="Local"/>.
    /// The Redis adapter throws <see cref="TimeoutException"/> when the other nodes do not all answer in time.
    /// </summary>
    public async ValueTask<IReadOnlyList<SocketIORemoteSocket>> FetchSocketsAsync()
    {
        var all = new List<SocketIORemoteSocket>();
        foreach (var ns in Targets)
        {
            all.AddRange(await ns.Adapter.FetchSocketsAsync(Options).ConfigureAwait(false));
        }
        return all;
    }

    /// <summary>Makes the selected sockets join <paramref name="rooms"/> (Node's <c>socketsJoin</c>).</summary>
    public async ValueTask SocketsJoinAsync(params string[] rooms)
    {
        foreach (var ns in Targets)
        {
            await ns.Adapter.AddSocketsAsync(Options, rooms).ConfigureAwait(false);
        }
    }

    /// <summary>Makes the selected sockets leave <paramref name="rooms"/> (Node's <c>socketsLeave</c>).</summary>
    public async ValueTask SocketsLeaveAsync(params string[] rooms)
    {
        foreach (var ns in Targets)
        {
            await ns.Adapter.DelSocketsAsync(Options, rooms).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Disconnects the selected sockets from the namespace (Node's <c>disconnectSockets</c>); with
    /// <paramref name="close"/>, closes their whole connections, every namespace included.
    /// </summary>
    public async ValueTask DisconnectSocketsAsync(bool close = false)
    {
        foreach (var ns in Targets)
        {
            await ns.Adapter.DisconnectSocketsAsync(Options, close).ConfigureAwait(false);
        }
    }

    private static void Observe(SocketIONamespace ns, ValueTask task)
    {
        if (task.IsCompletedSuccessfully)
        {
            return;
        }
        _ = ObserveAsync(ns, task.AsTask());

        static async Task ObserveAsync(SocketIONamespace ns, Task task)
        {
            try
            {
                await task.ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                SocketIOServer.Log.AdapterFailed(ns.Server.Logger, ex);
            }
        }
    }
}

/// <summary>Not every recipient acknowledged in time; <see cref="Responses"/> holds those that did.</summary>
public sealed class SocketIOAckTimeoutException : TimeoutException
{
    /// <summary>Creates the exception with the acknowledgements received and how many were expected.</summary>
    public SocketIOAckTimeoutException(IReadOnlyList<SocketIOArgs> responses, int expected)
        : base($"{responses.Count} of {expected} clients acknowledged before the timeout.")
    {
        Responses = responses;
        Expected = expected;
    }

    /// <summary>Creates the exception with no responses and none expected.</summary>
    public SocketIOAckTimeoutException()
        : this([], 0)
    {
    }

    /// <summary>Creates the exception with a message, no responses and none expected.</summary>
    public SocketIOAckTimeoutException(string message)
        : base(message)
    {
        Responses = [];
    }

    /// <summary>Creates the exception with a message and the exception that caused it, no responses and none expected.</summary>
    public SocketIOAckTimeoutException(string message, Exception innerException)
        : base(message, innerException)
    {
        Responses = [];
    }

    /// <summary>The acknowledgements received before the timeout, one per client that answered.</summary>
    public IReadOnlyList<SocketIOArgs> Responses { get; }

    /// <summary>How many clients the emit reached, each expected to acknowledge.</summary>
    public int Expected { get; }
}
