using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Tessera.Auth;
using Tessera.Auth.Internal;
using Tessera.SocketIO;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Adds authentication of Socket.IO handshakes to <c>services.AddSocketIO()</c>.</summary>
public static class JwtAuthenticationExtensions
{
    internal const string HostingDiagnosticsCategory = "Microsoft.AspNetCore.Hosting.Diagnostics";

    /// <summary>
    /// Requires a valid JWT to join Socket.IO namespaces (all, or <see cref="JwtAuthenticationOptions.Namespaces"/>),
    /// sets <c>socket.User</c>, puts each socket in room <c>user:{sub}</c>, and enforces the token's expiry for
    /// the whole connection (auth:expiring / auth:refresh / auth:expired). Options are validated at start.
    /// </summary>
    public static ISocketIOBuilder AddJwtAuthentication(this ISocketIOBuilder builder, Action<JwtAuthenticationOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(configure);
        var services = builder.Services;
        services.AddOptions<JwtAuthenticationOptions>().Configure(configure).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<JwtAuthenticationOptions>, JwtAuthenticationOptionsValidation>());
        // ASP.NET Core's "Request starting/finished" lines carry the full URL, query string included, which is
        // where ?token= travels: keep that category quiet so tokens never reach the logs.
        services.Configure<LoggerFilterOptions>(o => o.AddFilter(HostingDiagnosticsCategory, LogLevel.Warning));
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<AuthMetrics>();
        services.TryAddSingleton<AccessTokenValidator>();
        services.TryAddSingleton<SchemeAuthenticator>();
        services.TryAddSingleton(sp => new AuthenticatedSockets(
            sp.GetRequiredService<IOptions<JwtAuthenticationOptions>>(), sp.GetRequiredService<AuthMetrics>(), sp.GetRequiredService<TimeProvider>()));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<ISocketIONamespaceConfigurator, JwtNamespaceConfigurator>());
        return builder;
    }

    /// <summary>
    /// Authenticates sockets with a registered ASP.NET Core authentication scheme (JwtBearer against Entra ID,
    /// Auth0 or Keycloak; cookies) instead of Tessera's own token validation: <c>socket.User</c> is the scheme's
    /// principal, and the connection's deadline is the ticket's <c>ExpiresUtc</c> or the token's <c>exp</c>.
    /// A token found in the usual places (<c>auth.token</c>, header, cookie, query) is presented to the scheme as
    /// <c>Authorization: Bearer</c>; the handshake's own headers and cookies are presented as they came.
    /// </summary>
    public static ISocketIOBuilder AddAuthenticationScheme(this ISocketIOBuilder builder, string scheme, Action<JwtAuthenticationOptions>? configure = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(scheme);
        return builder.AddJwtAuthentication(o =>
        {
            o.AuthenticationScheme = scheme;
            configure?.Invoke(o);
        });
    }
}

internal sealed class JwtAuthenticationOptionsValidation : IValidateOptions<JwtAuthenticationOptions>
{
    public ValidateOptionsResult Validate(string? name, JwtAuthenticationOptions options) =>
        options.Problem() is { } problem ? ValidateOptionsResult.Fail(problem) : ValidateOptionsResult.Success;
}
