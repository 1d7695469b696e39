using Microsoft.Extensions.Hosting;

namespace Tessera.EngineIO.Internal;

/// <summary>
/// Closes every session before the server stops: <see cref="StoppingAsync"/> runs before any hosted service's
/// StopAsync, Kestrel's included, so close handshakes finish while connections are still read. (The endpoint's
/// ApplicationStopping registration is the fallback for an app that maps Engine.IO without AddEngineIO.)
/// </summary>
internal sealed class EngineIOShutdown(EngineIOEndpoints endpoints) : IHostedLifecycleService
{
    // Above the transports' own close-handshake bounds (2 s), below the host's default shutdown timeout.
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(3);

    public Task StoppingAsync(CancellationToken cancellationToken) =>
        Task.WhenAll(endpoints.Servers.Select(server => server.CloseAllAsync(CloseReason.ServerShuttingDown, Bound, cancellationToken)));

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
