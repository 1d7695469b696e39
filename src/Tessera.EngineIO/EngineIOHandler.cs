namespace Tessera.EngineIO;

/// <summary>
/// The application side of an Engine.IO endpoint. Calls for one socket never overlap: a message is handled
/// before the next one of the same socket is read.
/// </summary>
public abstract class EngineIOHandler
{
    /// <summary>A session has completed its handshake.</summary>
    public virtual ValueTask OnOpenAsync(EngineIOSocket socket) => default;

    /// <summary>A message arrived. Its data is valid only until the returned task completes.</summary>
    public virtual ValueTask OnMessageAsync(EngineIOSocket socket, EngineIOMessage message) => default;

    /// <summary>
    /// The session ended. <paramref name="reason"/> is Node's string: "transport close", "transport error",
    /// "ping timeout", "parse error", "forced close" or "server shutting down".
    /// </summary>
    public virtual ValueTask OnCloseAsync(EngineIOSocket socket, string reason) => default;
}
