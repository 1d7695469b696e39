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

    public SocketIONamespace Of(Regex pattern)
    {
        ArgumentNullException.ThrowIfNull(pattern);
        return Of((name, _) => pattern.IsMatch(name));
    }

    /// <summary>The main namespace "/" (Node's <c>io.sockets</c>).</summary>
    public SocketIONamespace Sockets => Of("/");

    public SocketIONamespace Use(Func<SocketIOSocket, Func<ValueTask>, ValueTask> middleware) => Sockets.Use(middleware);

    public SocketIONamespace OnConnection(Func<SocketIOSocket, ValueTask> handler) => Sockets.OnConnection(handler);

    public SocketIONamespace OnConnection(Action<SocketIOSocket> handler) => Sockets.OnConnection(handler);

    public BroadcastOperator To(string room) => Sockets.To(room);

    public BroadcastOperator In(string room) => Sockets.In(room);

    public BroadcastOperator Except(string room) => Sockets.Except(room);

    public BroadcastOperator Timeout(TimeSpan timeout) => Sockets.Timeout(timeout);

    public BroadcastOperator Volatile => Sockets.Volatile;

    public BroadcastOperator Local => Sockets.Local;

    public void Emit(string eventName, params object?[] args) => Sockets.Emit(eventName, args);

    public ValueTask ServerSideEmitAsync(string eventName, params object?[] args) => Sockets.ServerSideEmitAsync(eventName, args);

    public SocketIONamespace OnServerSideEmit(string eventName, Func<SocketIOServerSideEvent, ValueTask> handler) => Sockets.OnServerSideEmit(eventName, handler);

    public ValueTask<IReadOnlyList<SocketIORemoteSocket>> FetchSocketsAsync() => Sockets.FetchSocketsAsync();

    public ValueTask SocketsJoinAsync(params string[] rooms) => Sockets.SocketsJoinAsync(rooms);

    public ValueTask SocketsLeaveAsync(params string[] rooms) => Sockets.SocketsLeaveAsync(rooms);

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
            socket.Context = new Client(server, socket);
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
