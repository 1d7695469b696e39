using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Tessera.SocketIO;
using Tessera.SocketIO.Internal;

namespace Microsoft.AspNetCore.Builder;

/// <summary>Registers the Socket.IO server in dependency injection and maps its endpoint.</summary>
public static class SocketIOExtensions
{
    /// <summary>
    /// Registers the <see cref="SocketIOServer"/> (inject it anywhere to emit) and its options, validated at start.
    /// Returns the builder where authentication and adapters plug in.
    /// </summary>
    public static ISocketIOBuilder AddSocketIO(this IServiceCollection services, Action<SocketIOOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        var options = services.AddOptions<SocketIOOptions>().ValidateOnStart();
        if (configure is not null)
        {
            options.Configure(configure);
        }
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<SocketIOOptions>, SocketIOOptionsValidation>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IPostConfigureOptions<SocketIOOptions>, SocketIOOptionsValidation>());
        services.TryAddSingleton<SocketIOServer>();
        // The registry of Engine.IO endpoints, for the direct WebSocket path.
        services.AddEngineIO();
        return new SocketIOBuilder(services);
    }

    /// <summary>Serves Socket.IO at <paramref name="path"/> (default "/socket.io", as the clients expect).</summary>
    public static EngineIOEndpointConventionBuilder MapSocketIO(this IEndpointRouteBuilder endpoints, string path = "/socket.io")
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        var server = endpoints.ServiceProvider.GetService<SocketIOServer>()
            ?? throw new InvalidOperationException("Call builder.Services.AddSocketIO() before app.MapSocketIO().");
        return endpoints.MapEngineIO(path, server.EngineHandler, server.Options.EngineIO);
    }
}
