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
        services.TryAddEnumerable(ServiceDescriptor.Singleton<Microsoft.Extensions.Options.IValidateOptions<EngineIOOptions>>(
            new ProblemValidation<EngineIOOptions>(static o => o.Problem())));
        // Process-wide, not per endpoint: after a connect burst, the collector's unused memory goes back to the OS.
        services.AddOptions<IdleMemoryReleaseOptions>().ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<Microsoft.Extensions.Options.IValidateOptions<IdleMemoryReleaseOptions>>(
            new ProblemValidation<IdleMemoryReleaseOptions>(static o => o.Problem())));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<Microsoft.Extensions.Hosting.IHostedService, IdleMemoryRelease>());
        if (configure is not null)
        {
            builder.Configure(configure);
        }
        return services;
    }
}

/// <summary>Options checked at start by their own <c>Problem()</c>, whose message is the failure's.</summary>
internal sealed class ProblemValidation<TOptions>(Func<TOptions, string?> problem) : Microsoft.Extensions.Options.IValidateOptions<TOptions>
    where TOptions : class
{
    public Microsoft.Extensions.Options.ValidateOptionsResult Validate(string? name, TOptions options) =>
        problem(options) is { } message
            ? Microsoft.Extensions.Options.ValidateOptionsResult.Fail(message)
            : Microsoft.Extensions.Options.ValidateOptionsResult.Success;
}
