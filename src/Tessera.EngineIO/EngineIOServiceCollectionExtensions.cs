using Microsoft.Extensions.DependencyInjection.Extensions;
using Tessera.EngineIO;
using Tessera.EngineIO.Internal;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers Engine.IO's services and default options (<c>AddEngineIO</c>) on an <see cref="IServiceCollection"/>.</summary>
public static class EngineIOServiceCollectionExtensions
{
    /// <summary>Sets the default options of every Engine.IO endpoint mapped in this app.</summary>
    public static IServiceCollection AddEngineIO(this IServiceCollection services, Action<EngineIOOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.TryAddSingleton<EngineIOEndpoints>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<Microsoft.Extensions.Hosting.IHostedService, EngineIOShutdown>());
        var builder = services.AddOptions<EngineIOOptions>().ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<Microsoft.Extensions.Options.IValidateOptions<EngineIOOptions>, EngineIOOptionsValidation>());
        // Process-wide, not per endpoint: after a connect burst, the collector's unused memory goes back to the OS.
        services.AddOptions<IdleMemoryReleaseOptions>().ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<Microsoft.Extensions.Options.IValidateOptions<IdleMemoryReleaseOptions>, IdleMemoryReleaseOptionsValidation>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<Microsoft.Extensions.Hosting.IHostedService, IdleMemoryRelease>());
        if (configure is not null)
        {
            builder.Configure(configure);
        }
        return services;
    }
}

internal sealed class EngineIOOptionsValidation : Microsoft.Extensions.Options.IValidateOptions<EngineIOOptions>
{
    public Microsoft.Extensions.Options.ValidateOptionsResult Validate(string? name, EngineIOOptions options) =>
        options.Problem() is { } problem
            ? Microsoft.Extensions.Options.ValidateOptionsResult.Fail(problem)
            : Microsoft.Extensions.Options.ValidateOptionsResult.Success;
}

internal sealed class IdleMemoryReleaseOptionsValidation : Microsoft.Extensions.Options.IValidateOptions<IdleMemoryReleaseOptions>
{
    public Microsoft.Extensions.Options.ValidateOptionsResult Validate(string? name, IdleMemoryReleaseOptions options) =>
        options.Problem() is { } problem
            ? Microsoft.Extensions.Options.ValidateOptionsResult.Fail(problem)
            : Microsoft.Extensions.Options.ValidateOptionsResult.Success;
}
