using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Tessera.EngineIO.Internal;

namespace Microsoft.AspNetCore.Hosting;

/// <summary>
/// The direct WebSocket path: Engine.IO WebSocket handshakes answered at Kestrel's connection level, below the
/// HTTP/1.1 stack. A held WebSocket then costs no HTTP request objects, and frames go straight between the
/// connection's pipes and the session.
/// </summary>
/// <remarks>
/// Only plain WebSocket handshakes on a mapped Engine.IO path take it (no <c>sid</c>, <c>EIO=4</c>, and none of
/// <see cref="Tessera.EngineIO.EngineIOOptions.AllowRequest"/> or negotiated permessage-deflate); polling, upgrades
/// from polling, other paths and anything unusual go through Kestrel and the app's middleware as before.
/// Because these handshakes skip the app's HTTP middleware (authentication, logging, rate limiting of requests),
/// an app that relies on that middleware for its Socket.IO handshakes should not enable it. Handshakes carrying
/// forwarded headers (<c>Forwarded</c>, <c>X-Forwarded-*</c>) take the HTTP stack too, so that the app's
/// forwarded-headers settings decide the client's address and scheme.
/// On a TLS endpoint the direct path must come after <c>UseHttps</c> (<c>listen.UseHttps(…); listen.UseEngineIODirectWebSockets();</c>);
/// in front of it, it hands every connection on untouched (a plaintext handshake on the TLS port is never answered)
/// and logs a warning once.
/// </remarks>
public static class EngineIOKestrelExtensions
{
    /// <summary>Serves Engine.IO WebSocket handshakes on this endpoint through the direct path.</summary>
    public static ListenOptions UseEngineIODirectWebSockets(this ListenOptions listenOptions) =>
        listenOptions.UseEngineIODirectWebSockets(configure: null);

    /// <summary>Serves Engine.IO WebSocket handshakes on this endpoint through the direct path, with these options.</summary>
    public static ListenOptions UseEngineIODirectWebSockets(this ListenOptions listenOptions, Action<Tessera.EngineIO.EngineIODirectWebSocketOptions>? configure)
    {
        ArgumentNullException.ThrowIfNull(listenOptions);
        var directOptions = new Tessera.EngineIO.EngineIODirectWebSocketOptions();
        configure?.Invoke(directOptions);
        if (directOptions.MaxPendingRequestHeadsPerAddress < 0 || directOptions.RequestHeadTimeout <= TimeSpan.Zero)
        {
            throw new ArgumentException("EngineIODirectWebSocketOptions: MaxPendingRequestHeadsPerAddress must be 0 or more and RequestHeadTimeout positive.", nameof(configure));
        }
        listenOptions.Use(next =>
        {
            // Resolved when Kestrel builds the endpoint's pipeline, at start.
            var services = listenOptions.ApplicationServices;
            var endpoints = services.GetService<EngineIOEndpoints>()
                ?? throw new InvalidOperationException(
                    "The direct WebSocket path needs builder.Services.AddEngineIO() or AddSocketIO().");
            // Every middleware is registered by now, UseHttps included wherever it was called: the endpoint's name
            // says whether it is TLS ("https://…"). Which side of the TLS layer this middleware sits on is only known
            // per connection (a TLS connection carries ITlsHandshakeFeature past it).
            var name = listenOptions.ToString() ?? "";
            var tls = name.StartsWith("https:", StringComparison.OrdinalIgnoreCase);
            var logger = (services.GetService<ILoggerFactory>() ?? NullLoggerFactory.Instance).CreateLogger("Tessera.EngineIO");
            return new EngineIOConnectionMiddleware(next, endpoints, tls, name, logger, directOptions).OnConnectionAsync;
        });
        return listenOptions;
    }

    /// <summary>
    /// Serves Engine.IO WebSocket handshakes through the direct path on every endpoint Kestrel binds (URLs from
    /// configuration included). It sets <see cref="KestrelServerOptions.ConfigureEndpointDefaults"/>, which holds one
    /// callback: an app that sets its own should call <c>UseEngineIODirectWebSockets</c> on each endpoint instead.
    /// Endpoint defaults run before an endpoint's own <c>UseHttps</c>, so on HTTPS endpoints the direct path stays
    /// off (safely: see the remarks of the class); call <c>UseEngineIODirectWebSockets</c> after <c>UseHttps</c> on
    /// such an endpoint to have it there.
    /// </summary>
    public static KestrelServerOptions UseEngineIODirectWebSockets(this KestrelServerOptions options) =>
        options.UseEngineIODirectWebSockets(configure: null);

    /// <summary>As <see cref="UseEngineIODirectWebSockets(KestrelServerOptions)"/>, with these options on every endpoint.</summary>
    public static KestrelServerOptions UseEngineIODirectWebSockets(this KestrelServerOptions options, Action<Tessera.EngineIO.EngineIODirectWebSocketOptions>? configure)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.ConfigureEndpointDefaults(listen => listen.UseEngineIODirectWebSockets(configure));
        return options;
    }
}
