using Microsoft.Extensions.Options;
using Tessera.SocketIO;

namespace Tessera.Auth.Internal;

/// <summary>
/// Puts JWT authentication in front of every namespace it covers (before the application's own middleware),
/// tracks each socket's token for its whole life, and guards events with the namespace's authorization rules.
/// </summary>
internal sealed class JwtNamespaceConfigurator(
    AccessTokenValidator validator,
    AuthenticatedSockets sockets,
    IOptions<JwtAuthenticationOptions> options,
    IServiceProvider services) : ISocketIONamespaceConfigurator
{
    private readonly JwtAuthenticationOptions _options = options.Value;

    public void Configure(SocketIONamespace ns)
    {
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

    private async ValueTask AuthenticateAsync(SocketIOSocket socket, Func<ValueTask> next)
    {
        var token = TokenSources.Find(socket.Handshake, _options);
        if (token is null)
        {
            throw Refusal(AuthErrorCodes.TokenMissing);
        }
        var result = await validator.ValidateAsync(token).ConfigureAwait(false);
        if (!result.IsValid)
        {
            throw Refusal(result.ErrorCode!);
        }
        AuthMetrics.Handshakes.Add(1, AuthMetrics.Tag("result", "accepted"), AuthMetrics.Tag("code", "ok"));
        socket.User = result.Principal!;
        Pending.AddOrUpdate(socket, new Box(result));
        await next().ConfigureAwait(false);
    }

    private async ValueTask AuthorizeConnectionAsync(SocketIOSocket socket, Func<ValueTask> next)
    {
        if (!await SocketAuthorization.AllowsAsync(socket.Namespace, null, socket.User, services).ConfigureAwait(false))
        {
            throw Refusal(AuthErrorCodes.Forbidden);
        }
        await next().ConfigureAwait(false);
    }

    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<SocketIOSocket, Box> Pending = new();

    private sealed class Box(AccessTokenValidationResult result)
    {
        public AccessTokenValidationResult Result { get; } = result;
    }

    private void OnAuthenticatedConnection(SocketIOSocket socket)
    {
        if (!Pending.TryGetValue(socket, out var box))
        {
            return;
        }
        Pending.Remove(socket);
        if (box.Result.Subject is { Length: > 0 } subject)
        {
            socket.Join("user:" + subject);
        }
        sockets.Track(socket, box.Result);
        socket.On(AuthenticatedSockets.RefreshEvent, async e =>
        {
            var token = e.Args.Count > 0 && e.Args[0].ValueKind == System.Text.Json.JsonValueKind.String
                ? TokenSources.StripBearer(e.Args[0].GetString())
                : null;
            var result = token is { Length: > 0 }
                ? await validator.ValidateAsync(token).ConfigureAwait(false)
                : AccessTokenValidationResult.Fail(AuthErrorCodes.TokenInvalid);
            var answer = sockets.Refresh(e.Socket, result);
            AuthMetrics.Refreshes.Add(1, AuthMetrics.Tag("via", "socket"), AuthMetrics.Tag("result", result.ErrorCode ?? "ok"));
            e.Ack(answer);
        });
    }

    private async ValueTask AuthorizeEventAsync(SocketIOEvent e, Func<ValueTask> next)
    {
        if (e.Name == AuthenticatedSockets.RefreshEvent
            || await SocketAuthorization.AllowsAsync(e.Socket.Namespace, e.Name, e.Socket.User, services).ConfigureAwait(false))
        {
            await next().ConfigureAwait(false);
            return;
        }
        e.Ack(new { error = new { code = AuthErrorCodes.Forbidden } });
    }

    private static SocketIOConnectException Refusal(string code)
    {
        AuthMetrics.Handshakes.Add(1, AuthMetrics.Tag("result", "refused"), AuthMetrics.Tag("code", code));
        return new(AuthErrorCodes.Message(code), new { code, retryable = AuthErrorCodes.IsRetryable(code) });
    }
}
