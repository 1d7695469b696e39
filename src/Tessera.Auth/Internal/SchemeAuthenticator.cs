using System.Security.Claims;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.IdentityModel.Tokens;
using Tessera.SocketIO;

namespace Tessera.Auth.Internal;

/// <summary>
/// Authenticates a socket with a registered ASP.NET Core authentication scheme. The CONNECT comes long after the
/// Engine.IO request ended (and on the direct WebSocket path there never was an HttpContext), so the scheme is
/// shown a request rebuilt from the handshake: its headers, cookies, address and scheme, plus the token found in
/// the usual places as <c>Authorization: Bearer</c>.
/// </summary>
internal sealed class SchemeAuthenticator(IServiceProvider services, TimeProvider time, IAccessTokenRevocation? revocation = null)
{
    public async ValueTask<AccessTokenValidationResult> AuthenticateAsync(string scheme, SocketIOHandshake handshake, string? token, TimeSpan clockSkew)
    {
        await using var scope = services.CreateAsyncScope();
        var context = new DefaultHttpContext { RequestServices = scope.ServiceProvider };
        var request = context.Request;
        request.Method = HttpMethods.Get;
        request.Scheme = handshake.Secure ? "https" : "http";
        request.Path = handshake.Url;
        foreach (var (name, value) in handshake.Headers)
        {
            request.Headers[name] = value;
        }
        if (token is not null)
        {
            request.Headers.Authorization = "Bearer " + token;
        }
        context.Connection.RemoteIpAddress = handshake.Address;
        // An unregistered scheme throws InvalidOperationException: a configuration error, logged by the middleware.
        var result = await context.AuthenticateAsync(scheme).ConfigureAwait(false);
        if (result.None)
        {
            return AccessTokenValidationResult.Fail(token is null ? AuthErrorCodes.TokenMissing : AuthErrorCodes.TokenInvalid);
        }
        if (!result.Succeeded)
        {
            return AccessTokenValidationResult.Fail(result.Failure is SecurityTokenExpiredException ? AuthErrorCodes.TokenExpired : AuthErrorCodes.TokenInvalid);
        }
        var expiresAt = ExpiresAt(result.Principal, result.Properties) ?? DateTimeOffset.MaxValue - clockSkew - TimeSpan.FromDays(1);
        if (time.GetUtcNow() > expiresAt + clockSkew)
        {
            return AccessTokenValidationResult.Fail(AuthErrorCodes.TokenExpired);
        }
        // Revocation applies whoever validated the token (logout, refresh reuse, a disabled user).
        if (revocation is not null && await revocation.IsRevokedAsync(result.Principal).ConfigureAwait(false))
        {
            return AccessTokenValidationResult.Fail(AuthErrorCodes.TokenRevoked);
        }
        return new AccessTokenValidationResult(result.Principal, expiresAt, null);
    }

    /// <summary>The ticket's expiry (cookies), else the token's <c>exp</c> (JwtBearer), else none.</summary>
    private static DateTimeOffset? ExpiresAt(ClaimsPrincipal principal, AuthenticationProperties? properties)
    {
        if (properties?.ExpiresUtc is { } ticket)
        {
            return ticket;
        }
        return principal.FindFirst("exp")?.Value is { } exp && long.TryParse(exp, out var seconds)
            ? DateTimeOffset.FromUnixTimeSeconds(seconds)
            : null;
    }
}
