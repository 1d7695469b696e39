namespace Tessera.EngineIO.Internal;

/// <summary>
/// The Engine.IO endpoints this app mapped, by path: how the direct connection path, which runs below routing,
/// finds the server a WebSocket handshake is for. A DI singleton (registered by AddEngineIO).
/// </summary>
internal sealed class EngineIOEndpoints
{
    private readonly Lock _sync = new();
    private volatile KeyValuePair<string, EngineIOServer>[] _items = [];

    public bool IsEmpty => _items.Length == 0;

    /// <param name="path">The endpoint's path, "/" + trimmed (e.g. "/socket.io").</param>
    /// <param name="server">The server that handles the endpoint's requests.</param>
    public void Add(string path, EngineIOServer server)
    {
        lock (_sync)
        {
            _items = [.. _items, new(path, server)];
        }
    }

    /// <summary>Every mapped server.</summary>
    public IEnumerable<EngineIOServer> Servers => _items.Select(static item => item.Value);

    /// <summary>The server whose endpoint serves <paramref name="path"/> ("/socket.io", "/socket.io/" or below).</summary>
    public EngineIOServer? Find(string path)
    {
        foreach (var (prefix, server) in _items)
        {
            if (path.StartsWith(prefix, StringComparison.OrdinalIgnoreCase)
                && (path.Length == prefix.Length || path[prefix.Length] == '/'))
            {
                return server;
            }
        }
        return null;
    }
}
