using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Tessera.Accounts.Internal;

namespace Tessera.Accounts;

/// <summary>Maps the account endpoints (shared/CONTRACT.md §4).</summary>
public static class AccountEndpointRouteBuilderExtensions
{
    /// <summary>
    /// Maps POST register, login, refresh, logout and logout-all under <paramref name="prefix"/> (default /auth);
    /// the refresh cookie's path is that prefix. Every 4xx has a JSON body {message}; a body over 64 KB is 413,
    /// a non-JSON content type 415. When the account store fails (disk full, read-only, locked past its wait,
    /// unreachable) the answer is 503 <c>{message}</c> with <c>Retry-After</c>, never a 500.
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
        return group;
    }
}
