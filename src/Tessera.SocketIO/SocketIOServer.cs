using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Tessera.EngineIO;
using Tessera.SocketIO.Internal;

namespace Tessera.SocketIO;

/// <summary>The Socket.IO server (Node's <c>io</c>): namespaces, and broadcasts on the main namespace.</summary>
public sealed partial class SocketIOServer
{
    private readonly ConcurrentDictionary<string, SocketIONamespace> _namespaces = new(StringComparer.Ordinal);
    private readonly List<SocketIONamespace> _parents = [];
    private readonly ISocketIONamespaceConfigurator[] _configurators;
    private int _clients;

    /// <summary>
    /// Creates the server and its main namespace <c>/</c>. Applications normally let
    /// <see cref="Microsoft.AspNetCore.Builder.SocketIOExtensions.AddSocketIO"/> register it and inject it.
    /// </summary>
    /// <param name="options">The server's options; validated here as at application start.</param>
    /// <param name="logger">Where the server logs; null logs nothing.</param>
    /// <param name="configurators">Applied to every namespace when it is created, in order (see <see cref="ISocketIONamespaceConfigurator"/>).</param>
    /// <param name="meterFactory">Creates the <c>Tessera.SocketIO</c> meter (connected sockets per namespace, open connections); null creates a meter directly.</param>
    /// <exception cref="ArgumentNullException"><paramref name="options"/> is null.</exception>
    /// <exception cref="OptionsValidationException">The options are invalid (<see cref="SocketIOOptions.ConnectTimeout"/> or <see cref="SocketIOOptions.AckTimeout"/> not positive, or <see cref="SocketIOOptions.SerializerOptions"/> null).</exception>
    public SocketIOServer(
        IOptions<SocketIOOptions> options,
        ILogger<SocketIOServer>? logger = null,
        IEnumerable<ISocketIONamespaceConfigurator>? configurators = null,
        System.Diagnostics.Metrics.IMeterFactory? meterFactory = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        _configurators = configurators?.ToArray() ?? [];
        Options = options.Value;
        // Also when constructed without the host's options pipeline (tests, tools): the same checks as at start.
        if (Options.Problem() is { } problem)
        {
            throw new OptionsValidationException(nameof(SocketIOOptions), typeof(SocketIOOptions), [problem]);
        }
        Options.EnsureAttachmentConverters();
        Logger = (ILogger?)logger ?? NullLogger.Instance;
        EngineHandler = new EngineHandlerImpl(this);
        Of("/");
        // Sockets per namespace, read when a metrics exporter collects. The host's meter factory owns the meter.
        _meter = meterFactory?.Create("Tessera.SocketIO") ?? new System.Diagnostics.Metrics.Meter("Tessera.SocketIO");
        _meter.CreateObservableGauge("tessera.socketio.sockets.connected", ObserveSockets, description: "Connected sockets per namespace");
        _meter.CreateObservableGauge("tessera.socketio.clients.connected", () => ClientsCount, description: "Open Engine.IO connections");
    }

    private readonly System.Diagnostics.Metrics.Meter _meter;

    private IEnumerable<System.Diagnostics.Metrics.Measurement<int>> ObserveSockets()
    {
        foreach (var (name, ns) in _namespaces)
        {
            yield return new System.Diagnostics.Metrics.Measurement<int>(ns.Sockets.Count, new KeyValuePair<string, object?>("namespace", name));
        }
    }

    /// <summary>The options the server was created with.</summary>
    public SocketIOOptions Options { get; }

    internal ILogger Logger { get; }

    /// <summary>Creates each namespace's adapter; replace it (e.g. with Redis) before clients connect.</summary>
    public Func<SocketIONamespace, ISocketIOAdapter> AdapterFactory { get; set; } = ns => new InMemoryAdapter(ns);

    internal ISocketIOAdapter CreateAdapterFor(SocketIONamespace ns) => (Options.AdapterFactory ?? AdapterFactory)(ns);

    /// <summary>Open Engine.IO connections (clients), whatever namespaces they joined.</summary>
    public int ClientsCount => System.Threading.Volatile.Read(ref _clients);

    internal EngineIOHandler EngineHandler { get; }

    internal ISocketIOAdapter CreateAdapter(SocketIONamespace ns) => CreateAdapterFor(ns);

    /// <summary>The namespace of this name, created on first use ("chat" and "/chat" are the same).</summary>
    public SocketIONamespace Of(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (!name.StartsWith('/'))
        {
            name = "/" + name;
        }
        return _namespaces.GetOrAdd(name, static (n, server) => server.Configure(new SocketIONamespace(server, n)), this);
    }

    internal SocketIONamespace Configure(SocketIONamespace ns)
    {
        foreach (var configurator in _configurators)
        {
            configurator.Configure(ns);
        }
        return ns;
    }

    /// <summary>
    /// A dynamic namespace: any name the predicate accepts (given the CONNECT's auth payload) becomes a child
    /// namespace on first connection, with the parent's middleware and connection handlers.
    /// </summary>
    public SocketIONamespace Of(Func<string, JsonElement, bool> predicate)
    {
        ArgumentNullException.ThrowIfNull(predicate);
        var parent = new SocketIONamespace(this, "/_dynamic_" + _parents.Count, predicate);
        lock (_parents)
        {
            _parents.Add(parent);
        }
        return parent;
    }

    /// <summary>
    /// A dynamic namespace (Node's <c>io.of(/regex/)</c>): any name <paramref name="pattern"/> matches becomes a child
    /// namespace on first connection, as with <see cref="Of(Func{string, JsonElement, bool})"/>. The test is
    /// <see cref="Regex.IsMatch(string)"/>, so anchor the pattern (<c>^/…$</c>) to match whole names, which start with <c>/</c>.
    /// </summary>
    /// <exception cref="ArgumentNullException"><paramref name="pattern"/> is null.</exception>
    public SocketIONamespace Of(Regex pattern)
    {
        ArgumentNullException.ThrowIfNull(pattern);
        return Of((name, _) => pattern.IsMatch(name));
    }

    /// <summary>The main namespace "/" (Node's <c>io.sockets</c>).</summary>
    public SocketIONamespace Sockets => Of("/");

    /// <summary>Adds connection middleware to the main namespace (Node's <c>io.use</c>); see <see cref="SocketIONamespace.Use"/>.</summary>
    /// <returns>The main namespace, for chaining.</returns>
    public SocketIONamespace Use(Func<SocketIOSocket, Func<ValueTask>, ValueTask> middleware) => Sockets.Use(middleware);

    /// <summary>Runs <paramref name="handler"/> for each socket that joins the main namespace (Node's <c>io.on("connection")</c>).</summary>
    /// <returns>The main namespace, for chaining.</returns>
    public SocketIONamespace OnConnection(Func<SocketIOSocket, ValueTask> handler) => Sockets.OnConnection(handler);

    /// <summary>Runs a synchronous <paramref name="handler"/> for each socket that joins the main namespace (Node's <c>io.on("connection")</c>).</summary>
    /// <returns>The main namespace, for chaining.</returns>
    public SocketIONamespace OnConnection(Action<SocketIOSocket> handler) => Sockets.OnConnection(handler);

    /// <summary>Starts a broadcast on the main namespace to the sockets in <paramref name="room"/> (Node's <c>io.to</c>).</summary>
    public BroadcastOperator To(string room) => Sockets.To(room);

    /// <summary>The same as <see cref="To(string)"/> (Node's <c>io.in</c>).</summary>
    public BroadcastOperator In(string room) => Sockets.In(room);

    /// <summary>Starts a broadcast on the main namespace that leaves out the sockets in <paramref name="room"/> (Node's <c>io.except</c>).</summary>
    public BroadcastOperator Except(string room) => Sockets.Except(room);

    /// <summary>
    /// Starts a broadcast on the main namespace whose <see cref="BroadcastOperator.EmitWithAckAsync"/> waits at most
    /// <paramref name="timeout"/> for the acknowledgements (Node's <c>io.timeout</c>) instead of <see cref="SocketIOOptions.AckTimeout"/>.
    /// </summary>
    public BroadcastOperator Timeout(TimeSpan timeout) => Sockets.Timeout(timeout);

    /// <summary>Starts a broadcast on the main namespace that clients unable to take the packet right away miss (Node's <c>io.volatile</c>).</summary>
    public BroadcastOperator Volatile => Sockets.Volatile;

    /// <summary>Starts a broadcast on the main namespace that reaches this node's sockets only, even with a cluster adapter (Node's <c>io.local</c>).</summary>
    public BroadcastOperator Local => Sockets.Local;

    /// <summary>
    /// Sends an event to every socket of the main namespace (Node's <c>io.emit</c>). Arguments are serialised with
    /// <see cref="SocketIOOptions.SerializerOptions"/>; <c>byte[]</c> values travel as binary attachments.
    /// </summary>
    public void Emit(string eventName, params object?[] args) => Sockets.Emit(eventName, args);

    /// <summary>
    /// Sends an event to the main namespace's server-side handlers on every other node (Node's <c>io.serverSideEmit</c>);
    /// see <see cref="SocketIONamespace.ServerSideEmitAsync"/>. Does nothing without a cluster adapter.
    /// </summary>
    public ValueTask ServerSideEmitAsync(string eventName, params object?[] args) => Sockets.ServerSideEmitAsync(eventName, args);

    /// <summary>The main namespace's <see cref="SocketIONamespace.ServerSideEmitWithAckAsync(string, object?[])"/>.</summary>
    /// <exception cref="SocketIOAckTimeoutException">Some nodes did not answer in time; it carries the answers that came.</exception>
    public Task<IReadOnlyList<SocketIOArgs>> ServerSideEmitWithAckAsync(string eventName, params object?[] args) => Sockets.ServerSideEmitWithAckAsync(eventName, args);

    /// <summary>The main namespace's <see cref="SocketIONamespace.ServerSideEmitWithAckAsync(TimeSpan, string, object?[])"/>.</summary>
    /// <exception cref="SocketIOAckTimeoutException">Some nodes did not answer in time; it carries the answers that came.</exception>
    public Task<IReadOnlyList<SocketIOArgs>> ServerSideEmitWithAckAsync(TimeSpan timeout, string eventName, params object?[] args) =>
        Sockets.ServerSideEmitWithAckAsync(timeout, eventName, args);

    /// <summary>
    /// Handles an event that other nodes send to the main namespace with <see cref="ServerSideEmitAsync"/>; see
    /// <see cref="SocketIONamespace.OnServerSideEmit"/>.
    /// </summary>
    /// <returns>The main namespace, for chaining.</returns>
    public SocketIONamespace OnServerSideEmit(string eventName, Func<SocketIOServerSideEvent, ValueTask> handler) => Sockets.OnServerSideEmit(eventName, handler);

    /// <summary>The sockets of the main namespace, on every node when a cluster adapter is installed (Node's <c>io.fetchSockets</c>).</summary>
    public ValueTask<IReadOnlyList<SocketIORemoteSocket>> FetchSocketsAsync() => Sockets.FetchSocketsAsync();

    /// <summary>Makes every socket of the main namespace join <paramref name="rooms"/> (Node's <c>io.socketsJoin</c>).</summary>
    public ValueTask SocketsJoinAsync(params string[] rooms) => Sockets.SocketsJoinAsync(rooms);

    /// <summary>Makes every socket of the main namespace leave <paramref name="rooms"/> (Node's <c>io.socketsLeave</c>).</summary>
    public ValueTask SocketsLeaveAsync(params string[] rooms) => Sockets.SocketsLeaveAsync(rooms);

    /// <summary>Disconnects every socket of the main namespace (Node's <c>io.disconnectSockets</c>).</summary>
    /// <param name="close">True to close each client's whole connection, every namespace included; false to leave only this namespace.</param>
    public ValueTask DisconnectSocketsAsync(bool close = false) => Sockets.DisconnectSocketsAsync(close);

    internal SocketIONamespace? ResolveNamespace(string name, JsonElement auth)
    {
        if (_namespaces.TryGetValue(name, out var ns))
        {
            return ns;
        }
        SocketIONamespace[] parents;
        lock (_parents)
        {
            parents = [.. _parents];
        }
        foreach (var parent in parents)
        {
            if (parent.Matches(name, auth))
            {
                return _namespaces.GetOrAdd(name, static (n, p) => p.CreateChild(n), parent);
            }
        }
        return null;
    }

    private sealed class EngineHandlerImpl(SocketIOServer server) : EngineIOHandler
    {
        public override ValueTask OnOpenAsync(EngineIOSocket socket)
        {
            Interlocked.Increment(ref server._clients);
            var client = new Client(server, socket);
            socket.Context = client;
            if (Internal.Parser.ProtocolV4.IsV4(socket))
            {
                // Not awaited: the open packet leaves first, the CONNECT reply (or refusal) follows when the middleware is done.
                _ = client.ConnectMainNamespaceAsync();
            }
            return ValueTask.CompletedTask;
        }

        public override ValueTask OnMessageAsync(EngineIOSocket socket, EngineIOMessage message) =>
            socket.Context is Client client ? client.OnMessageAsync(message) : ValueTask.CompletedTask;

        public override async ValueTask OnCloseAsync(EngineIOSocket socket, string reason)
        {
            Interlocked.Decrement(ref server._clients);
            if (socket.Context is Client client)
            {
                await client.OnEngineCloseAsync(reason).ConfigureAwait(false);
            }
        }
    }
}
