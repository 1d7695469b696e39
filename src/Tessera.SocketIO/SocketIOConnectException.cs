namespace Tessera.SocketIO;

/// <summary>
/// Thrown by a namespace middleware to refuse a connection: the client receives CONNECT_ERROR with
/// <see cref="Exception.Message"/> as <c>err.message</c> and <see cref="ErrorData"/> as <c>err.data</c>.
/// </summary>
public sealed class SocketIOConnectException : Exception
{
    public SocketIOConnectException(string message, object? data = null)
        : base(message)
    {
        ErrorData = data;
    }

    public SocketIOConnectException()
        : this("Connection refused")
    {
    }

    public SocketIOConnectException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Serialised as JSON into the CONNECT_ERROR's <c>data</c>.</summary>
    public object? ErrorData { get; }
}

/// <summary>Node's disconnect reason strings.</summary>
public static class DisconnectReason
{
    public const string TransportClose = "transport close";
    public const string TransportError = "transport error";
    public const string PingTimeout = "ping timeout";
    public const string ParseError = "parse error";
    public const string ForcedClose = "forced close";
    public const string ServerShuttingDown = "server shutting down";
    public const string ForcedServerClose = "forced server close";
    public const string ClientNamespaceDisconnect = "client namespace disconnect";
    public const string ServerNamespaceDisconnect = "server namespace disconnect";
}
