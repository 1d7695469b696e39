namespace Tessera.SocketIO;

/// <summary>
/// Thrown by a namespace middleware to refuse a connection: the client receives CONNECT_ERROR with
/// <see cref="Exception.Message"/> as <c>err.message</c> and <see cref="ErrorData"/> as <c>err.data</c>.
/// </summary>
public sealed class SocketIOConnectException : Exception
{
    /// <summary>Creates a refusal the client receives as <c>err.message</c> and <c>err.data</c> in <c>connect_error</c>.</summary>
    /// <param name="message">The refusal message, sent to the client as is.</param>
    /// <param name="data">Serialised as JSON into the CONNECT_ERROR's <c>data</c>; null leaves <c>data</c> out.</param>
    public SocketIOConnectException(string message, object? data)
        : base(message)
    {
        ErrorData = data;
    }

    /// <summary>Creates a refusal the client receives as <c>err.message</c> in <c>connect_error</c>, with no data.</summary>
    /// <param name="message">The refusal message, sent to the client as is.</param>
    public SocketIOConnectException(string message)
        : base(message)
    {
    }

    /// <summary>Creates a refusal with the message <c>Connection refused</c> and no data.</summary>
    public SocketIOConnectException()
        : this("Connection refused")
    {
    }

    /// <summary>Creates a refusal with <paramref name="message"/> and no data; <paramref name="innerException"/> is not sent to the client.</summary>
    public SocketIOConnectException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Serialised as JSON into the CONNECT_ERROR's <c>data</c>.</summary>
    public object? ErrorData { get; }

    /// <summary>
    /// For a reconnect that asked to recover a lost session (connection state recovery): whether that session is kept for a
    /// later attempt (an expired token the client can refresh) rather than discarded (the default: revoked, invalid).
    /// The refused attempt itself is sent nothing of it either way.
    /// </summary>
    public bool KeepsLostSession { get; init; }
}

/// <summary>Node's disconnect reason strings.</summary>
public static class DisconnectReason
{
    /// <summary><c>transport close</c>: the client closed the connection (its WebSocket, or an Engine.IO close packet).</summary>
    public const string TransportClose = "transport close";
    /// <summary><c>transport error</c>: the transport failed (a write error, an aborted poll, a message over <c>maxPayload</c>).</summary>
    public const string TransportError = "transport error";
    /// <summary><c>ping timeout</c>: the client did not answer a ping within <c>pingInterval</c> + <c>pingTimeout</c>.</summary>
    public const string PingTimeout = "ping timeout";
    /// <summary><c>parse error</c>: the client sent a malformed Engine.IO packet or payload.</summary>
    public const string ParseError = "parse error";
    /// <summary><c>forced close</c>: the server closed the Engine.IO connection, for example after a malformed Socket.IO packet.</summary>
    public const string ForcedClose = "forced close";
    /// <summary><c>server shutting down</c>: the application is stopping.</summary>
    public const string ServerShuttingDown = "server shutting down";
    /// <summary>
    /// <c>forced server close</c>: the server closed the whole connection, with <see cref="SocketIOSocket.Disconnect"/>(<c>true</c>)
    /// or because the client sent a packet to a namespace it had not joined (or a second CONNECT).
    /// </summary>
    public const string ForcedServerClose = "forced server close";
    /// <summary><c>client namespace disconnect</c>: the client left the namespace with a DISCONNECT packet (<c>socket.disconnect()</c> on the client).</summary>
    public const string ClientNamespaceDisconnect = "client namespace disconnect";
    /// <summary><c>server namespace disconnect</c>: the server removed the socket from the namespace with <see cref="SocketIOSocket.Disconnect"/>; the client receives <c>io server disconnect</c>.</summary>
    public const string ServerNamespaceDisconnect = "server namespace disconnect";
}
