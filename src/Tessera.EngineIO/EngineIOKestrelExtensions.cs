using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
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
/// an app that relies on that middleware for its Socket.IO handshakes should not enable it.
/// </remarks>
public static class EngineIOKestrelExtensions
{
    /// <summary>Serves Engine.IO WebSocket handshakes on this endpoint through the direct path.</summary>
    public static ListenOptions UseEngineIODirectWebSockets(this ListenOptions listenOptions)
    {
        ArgumentNullException.ThrowIfNull(listenOptions);
        listenOptions.Use(next =>
        {
            // Resolved when Kestrel builds the endpoint's pipeline, at start.
            var endpoints = listenOptions.ApplicationServices.GetService<EngineIOEndpoints>()
                ?? throw new InvalidOperationException(
                    "The direct WebSocket path needs builder.Services.AddEngineIO() or AddSocketIO().");
            return new EngineIOConnectionMiddleware(next, endpoints).OnConnectionAsync;
        });
        return listenOptions;
    }

    /// <summary>
    /// Serves Engine.IO WebSocket handshakes through the direct path on every endpoint Kestrel binds (URLs from
    /// configuration included). It sets <see cref="KestrelServerOptions.ConfigureEndpointDefaults"/>, which holds one
    /// callback: an app that sets its own should call <c>UseEngineIODirectWebSockets</c> on each endpoint instead.
    /// </summary>
    public static KestrelServerOptions UseEngineIODirectWebSockets(this KestrelServerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.ConfigureEndpointDefaults(listen => listen.UseEngineIODirectWebSockets());
        return options;
    }
}
