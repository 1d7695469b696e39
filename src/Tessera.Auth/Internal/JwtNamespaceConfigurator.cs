using Microsoft.Extensions.Options;
using Tessera.SocketIO;

namespace Tessera.Auth.Internal;

/// <summary>
/// Puts JWT authentication in front of every namespace it covers (before the application's own middleware),
/// tracks each socket's token for its whole life, and guards events with the namespace's authorization rules.
/// </summary>
internal sealed class JwtNamespaceConfigurator(
    AccessTokenValidator validator,
    SchemeAuthenticator schemes,
    AuthenticatedSockets sockets,
    AuthMetrics metrics,
    IOptions<JwtAuthenticationOptions> options,
    IServiceProvider services) : ISocketIONamespaceConfigurator
{
    private readonly JwtAuthenticationOptions _options = options.Value;

    public void Configure(SocketIONamespace ns)
    {
        // The namespace's authorization rules live in its features from the start (SocketAuthorization adds to them).
        ns.Features.Set(new SocketAuthorization.Rules());
        var authenticated = _options.Namespaces is null || _options.Namespaces.Contains(ns.Name);
        if (authenticated)
        {
            ns.Use(AuthenticateAsync);
        }
        ns.Use(AuthorizeConnectionAsync);
        ns.UseEventMiddleware(AuthorizeEventAsync);
        if (authenticated)
        {
            ns.OnConnection(OnAuthenticatedConnection);
        }
    }

    private ValueTask<AccessTokenValidationResult> ValidateAsync(SocketIOHandshake handshake, string? token) =>
        _options.AuthenticationScheme is { } scheme
            ? schemes.AuthenticateAsync(scheme, handshake, token, _options.ClockSkew)
            : token is null
                ? ValueTask.FromResult(AccessTokenValidationResult.Fail(AuthErrorCodes.TokenMissing))
                : validator.ValidateAsync(token);

    private async ValueTask AuthenticateAsync(SocketIOSocket socket, Func<ValueTask> next)
    {
        var token = TokenSources.Find(socket.Handshake, _options);
        if (token is { Length: var length } && length > _options.MaxTokenLength)
        {
            // Refused unread, whichever validator would have read it.
            socket.Refuse(Refusal(AuthErrorCodes.TokenInvalid));
            return;
        }
        var result = await ValidateAsync(socket.Handshake, token).ConfigureAwait(false);
        if (!result.IsValid)
        {
            // Refused without an exception: under a flood of bad tokens it would be rethrown at every await.
            socket.Refuse(Refusal(result.ErrorCode!));
            return;
        }
        metrics.Handshakes.Add(1, AuthMetrics.Tag("result", "accepted"), AuthMetrics.Tag("code", "ok"));
        socket.User = result.Principal!;
        socket.Features.Set(new PendingAuthentication(result));
        await next().ConfigureAwait(false);
    }

    private async ValueTask AuthorizeConnectionAsync(SocketIOSocket socket, Func<ValueTask> next)
    {
        if (!await SocketAuthorization.AllowsAsync(socket.Namespace, null, socket.User, services).ConfigureAwait(false))
        {
            socket.Refuse(Refusal(AuthErrorCodes.Forbidden));
            return;
        }
        await next().ConfigureAwait(false);
    }

    /// <summary>The token's result between the middleware that checked it and the connection it admits.</summary>
    private sealed class PendingAuthentication(AccessTokenValidationResult result)
    {
        public AccessTokenValidationResult Result { get; } = result;
    }

    private void OnAuthenticatedConnection(SocketIOSocket socket)
    {
        if (socket.Features.Get<PendingAuthentication>() is not { } pending)
        {
            return;
        }
        socket.Features.Set<PendingAuthentication>(null);
        if (pending.Result.Subject is { Length: > 0 } subject)
        {
            socket.Join("user:" + subject);
        }
        sockets.Track(socket, pending.Result);
        socket.On(AuthenticatedSockets.RefreshEvent, async e =>
        {
            var token = e.Args.Count > 0 && e.Args[0].ValueKind == System.Text.Json.JsonValueKind.String
                ? TokenSources.StripBearer(e.Args[0].GetString())
                : null;
            var result = token is { Length: > 0 } && token.Length <= _options.MaxTokenLength
                ? await ValidateAsync(e.Socket.Handshake, token).ConfigureAwait(false)
                : AccessTokenValidationResult.Fail(AuthErrorCodes.TokenInvalid);
            result = await AuthorizeRefreshAsync(e.Socket, result).ConfigureAwait(false);
            var answer = sockets.Refresh(e.Socket, result);
            metrics.Refreshes.Add(1, AuthMetrics.Tag("via", "socket"), AuthMetrics.Tag("result", result.ErrorCode ?? "ok"));
            e.Ack(answer);
        });
    }

    /// <summary>
    /// A refreshed token must pass the namespace's connect rules again, as a new connection would: the user may
    /// have lost the role or claim the namespace requires. Refused as <c>forbidden</c>; the socket then keeps its
    /// old identity until its old expiry. A token of another user is left to <see cref="AuthenticatedSockets.Refresh"/>,
    /// which answers <c>sub_mismatch</c> without anyone's policies being evaluated for it.
    /// </summary>
    private async ValueTask<AccessTokenValidationResult> AuthorizeRefreshAsync(SocketIOSocket socket, AccessTokenValidationResult result)
    {
        if (!result.IsValid
            || socket.Features.Get<ISocketAuthenticationFeature>() is not { } current
            || !string.Equals(result.Subject, current.Subject, StringComparison.Ordinal))
        {
            return result;
        }
        return await SocketAuthorization.AllowsAsync(socket.Namespace, null, result.Principal!, services).ConfigureAwait(false)
            ? result
            : AccessTokenValidationResult.Fail(AuthErrorCodes.Forbidden);
    }

    private async ValueTask AuthorizeEventAsync(SocketIOEvent e, Func<ValueTask> next)
    {
        if (e.Name == AuthenticatedSockets.RefreshEvent
            || await SocketAuthorization.AllowsAsync(e.Socket.Namespace, e.Name, e.Socket.User, services).ConfigureAwait(false))
        {
            await next().ConfigureAwait(false);
            return;
        }
        e.Ack(AuthPayloads.Forbidden);
    }

    private SocketIOConnectException Refusal(string code)
    {
        metrics.Handshakes.Add(1, AuthMetrics.Tag("result", "refused"), AuthMetrics.Tag("code", code));
        // An expired token keeps a lost session recoverable (CONTRACT §5): the client may refresh it within the window.
        return new(AuthErrorCodes.Message(code), AuthPayloads.Refusal(code)) { KeepsLostSession = code == AuthErrorCodes.TokenExpired };
    }
}
