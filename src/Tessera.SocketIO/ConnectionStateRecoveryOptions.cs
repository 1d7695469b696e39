namespace Tessera.SocketIO;

/// <summary>
/// Connection state recovery (Node's <c>connectionStateRecovery</c>, socket.io-client 4.6 and later): a client that lost its
/// connection and reconnects within <see cref="MaxDisconnectionDuration"/> gets its socket id, rooms, data and every event it
/// missed. Unlike Node, the namespace's middleware always runs for the reconnect (there is no <c>skipMiddlewares</c>), and a
/// refused reconnect is sent nothing of the lost session. On a single node; with an adapter that reaches other nodes it is off.
/// </summary>
public sealed class ConnectionStateRecoveryOptions
{
    /// <summary>How long a lost session and the events it misses are kept. Default 2 minutes (Node's default).</summary>
    public TimeSpan MaxDisconnectionDuration { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>
    /// The most events a namespace keeps for replay, whatever their age: the oldest are forgotten first (a client whose last
    /// event is among them reconnects as a new socket). Bounds the memory a burst of broadcasts can take. Default 10,000.
    /// </summary>
    public int MaxBufferedEvents { get; set; } = 10_000;
}
