using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Tessera.EngineIO;
using Tessera.EngineIO.Internal;

namespace Microsoft.AspNetCore.Builder;

/// <summary>Maps Engine.IO v4 endpoints (<c>MapEngineIO</c>) on an <see cref="IEndpointRouteBuilder"/>.</summary>
public static class EngineIOEndpointRouteBuilderExtensions
{
    /// <summary>
    /// Serves Engine.IO v4 at <paramref name="path"/> (e.g. "/engine.io"), both transports, with the raw message
    /// API of <paramref name="handler"/>, and the options of <c>services.AddEngineIO(…)</c> (or the defaults).
    /// </summary>
    public static EngineIOEndpointConventionBuilder MapEngineIO(this IEndpointRouteBuilder endpoints, string path, EngineIOHandler handler) =>
        endpoints.MapEngineIO(path, handler, configure: null);

    /// <summary>
    /// Serves Engine.IO v4 at <paramref name="path"/> (e.g. "/engine.io"), both transports, with the raw message
    /// API of <paramref name="handler"/>. Options start from <c>services.AddEngineIO(…)</c> (or defaults) and
    /// <paramref name="configure"/> adjusts them for this endpoint.
    /// </summary>
    public static EngineIOEndpointConventionBuilder MapEngineIO(
        this IEndpointRouteBuilder endpoints,
        string path,
        EngineIOHandler handler,
        Action<EngineIOOptions>? configure)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        ArgumentNullException.ThrowIfNull(handler);
        ArgumentException.ThrowIfNullOrEmpty(path);

        var options = Clone(endpoints.ServiceProvider.GetService<IOptions<EngineIOOptions>>()?.Value ?? new EngineIOOptions());
        configure?.Invoke(options);
        return endpoints.MapEngineIO(path, handler, options);
    }

    /// <summary>Serves Engine.IO v4 at <paramref name="path"/> with exactly these options.</summary>
    public static EngineIOEndpointConventionBuilder MapEngineIO(
        this IEndpointRouteBuilder endpoints,
        string path,
        EngineIOHandler handler,
        EngineIOOptions options)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        ArgumentNullException.ThrowIfNull(handler);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentException.ThrowIfNullOrEmpty(path);
        var services = endpoints.ServiceProvider;
        var logger = (services.GetService<ILoggerFactory>() ?? Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance)
            .CreateLogger("Tessera.EngineIO");
        var server = new EngineIOServer(options, handler, logger, new EngineIOMetrics(services.GetService<System.Diagnostics.Metrics.IMeterFactory>()));

        // Closing every session with a close packet lets clients tell a restart from a network failure. With
        // AddEngineIO, EngineIOShutdown does it and waits for the close handshakes before Kestrel stops; without it,
        // this starts them, and Kestrel's own stop runs beside them.
        var endpointsRegistry = services.GetService<EngineIOEndpoints>();
        if (endpointsRegistry is null)
        {
            services.GetService<IHostApplicationLifetime>()?.ApplicationStopping.Register(() => server.CloseAll(CloseReason.ServerShuttingDown));
        }

        var app = endpoints.CreateApplicationBuilder();
        app.UseWebSockets();
        app.Run(server.HandleRequestAsync);
        var pipeline = app.Build();

        var trimmed = "/" + path.Trim('/');
        endpointsRegistry?.Add(trimmed, server);
        var builder = endpoints.Map(trimmed + "/{**rest}", pipeline).WithDisplayName("Engine.IO " + trimmed);
        return new EngineIOEndpointConventionBuilder(builder, server);
    }

    internal static EngineIOOptions Clone(EngineIOOptions source)
    {
        var copy = new EngineIOOptions
        {
            PingInterval = source.PingInterval,
            PingTimeout = source.PingTimeout,
            MaxPayload = source.MaxPayload,
            MaxBufferedBytes = source.MaxBufferedBytes,
            WriteTimeout = source.WriteTimeout,
            MaxConnectionsPerAddress = source.MaxConnectionsPerAddress,
            UpgradeTimeout = source.UpgradeTimeout,
            Transports = source.Transports,
            AllowUpgrades = source.AllowUpgrades,
            PerMessageDeflate = source.PerMessageDeflate,
            Cookie = source.Cookie,
            Cors = source.Cors,
            AllowRequest = source.AllowRequest,
        };
        return copy;
    }
}

/// <summary>The endpoint of <c>MapEngineIO</c>; also tells how many sessions it holds.</summary>
public sealed class EngineIOEndpointConventionBuilder : IEndpointConventionBuilder
{
    private readonly IEndpointConventionBuilder _inner;
    private readonly EngineIOServer _server;

    internal EngineIOEndpointConventionBuilder(IEndpointConventionBuilder inner, EngineIOServer server)
    {
        _inner = inner;
        _server = server;
    }

    internal EngineIOServer Server => _server;

    /// <summary>Sessions currently open on this endpoint.</summary>
    public int ClientsCount => _server.ClientsCount;

    /// <inheritdoc/>
    public void Add(Action<EndpointBuilder> convention) => _inner.Add(convention);

    /// <inheritdoc/>
    public void Finally(Action<EndpointBuilder> finallyConvention) => _inner.Finally(finallyConvention);
}
