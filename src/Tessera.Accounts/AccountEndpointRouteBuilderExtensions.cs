using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Tessera.Accounts.Internal;

namespace Tessera.Accounts;

/// <summary>Maps the account endpoints (shared/CONTRACT.md §4).</summary>
public static class AccountEndpointRouteBuilderExtensions
{
    /// <summary>
    /// Maps POST register, login, refresh, logout and logout-all under <paramref name="prefix"/> (default /auth);
    /// the refresh cookie's path is that prefix. Every 4xx has a JSON body {message}; a body over 64 KB is 413,
    /// a non-JSON content type 415. When the account store fails (disk full, read-only, locked past its wait,
    /// unreachable) the answer is 503 <c>{message}</c> with <c>Retry-After</c>, never a 500. With
    /// <see cref="AccountOptions.SigningAlgorithm"/> ES256 or RS256 it also maps <c>GET /.well-known/jwks.json</c> (the public
    /// keys) and <c>GET /.well-known/openid-configuration</c> (<c>issuer</c>, <c>jwks_uri</c>) at the root, so other services
    /// verify the tokens from the published keys (JwtBearer's <c>Authority</c>, jose's <c>createRemoteJWKSet</c>).
    /// </summary>
    public static RouteGroupBuilder MapTesseraAuth(this IEndpointRouteBuilder endpoints, string prefix = "/auth")
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        ArgumentException.ThrowIfNullOrEmpty(prefix);
        var handlers = new AuthEndpoints("/" + prefix.Trim('/'));
        var group = endpoints.MapGroup(handlers.CookiePath);
        group.AddEndpointFilter(AuthEndpoints.StoreUnavailableAsync);
        // Each handler takes its services as parameters (minimal APIs resolve them per request).
        group.MapPost("/register", handlers.RegisterAsync);
        group.MapPost("/login", handlers.LoginAsync);
        group.MapPost("/refresh", handlers.RefreshAsync);
        group.MapPost("/logout", handlers.LogoutSessionAsync);
        group.MapPost("/logout-all", handlers.LogoutEverywhereAsync);
        if (endpoints.ServiceProvider.GetRequiredService<SigningKeyRing>().IsAsymmetric)
        {
            endpoints.MapGet(WellKnown.JwksPath, WellKnown.Jwks);
            endpoints.MapGet(WellKnown.DiscoveryPath, WellKnown.Discovery);
        }
        return group;
    }
}
