using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Tessera.Auth;
using Tessera.Auth.Internal;
using Tessera.SocketIO;

namespace Microsoft.Extensions.DependencyInjection;

public static class JwtAuthenticationExtensions
{
    internal const string HostingDiagnosticsCategory = "Microsoft.AspNetCore.Hosting.Diagnostics";

    /// <summary>
    /// Requires a valid JWT to join Socket.IO namespaces (all, or <see cref="JwtAuthenticationOptions.Namespaces"/>),
    /// sets <c>socket.User</c>, puts each socket in room <c>user:{sub}</c>, and enforces the token's expiry for
    /// the whole connection (auth:expiring / auth:refresh / auth:expired).
    /// </summary>
    public static IServiceCollection AddJwtAuthentication(this IServiceCollection services, Action<JwtAuthenticationOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        services.AddOptions<JwtAuthenticationOptions>().Configure(configure).Validate(o =>
        {
            o.Validate();
            return true;
        }).ValidateOnStart();
        // ASP.NET Core's "Request starting/finished" lines carry the full URL, query string included, which is
        // where ?token= travels: keep that category quiet so tokens never reach the logs.
        services.Configure<LoggerFilterOptions>(o => o.AddFilter(HostingDiagnosticsCategory, LogLevel.Warning));
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<AccessTokenValidator>();
        services.TryAddSingleton<AuthenticatedSockets>();
        services.AddSingleton<ISocketIONamespaceConfigurator, JwtNamespaceConfigurator>();
        return services;
    }
}
