using System.Security.Claims;

namespace Tessera.Auth;

/// <summary>
/// What authentication established for a connected socket, in <c>socket.Features</c>: who, which login session,
/// and until when (the current token's <c>exp</c>; it moves on an in-band refresh).
/// </summary>
public interface ISocketAuthenticationFeature
{
    /// <summary>The socket's user (also <c>socket.User</c>).</summary>
    ClaimsPrincipal User { get; }

    /// <summary>The <c>sub</c> claim.</summary>
    string Subject { get; }

    /// <summary>The <c>sid</c> claim (login session), if the token has one.</summary>
    string? SessionId { get; }

    /// <summary>When the socket's current token expires.</summary>
    DateTimeOffset ExpiresAt { get; }
}
