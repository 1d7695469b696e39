using Microsoft.Extensions.Logging;

namespace Tessera.SocketIO;

public sealed partial class SocketIOServer
{
    // A client's malformed input is logged at Debug: it must not flood an operator's logs.
    internal static partial class Log
    {
        [LoggerMessage(101, LogLevel.Debug, "Socket.IO connection {Sid}: malformed packet ({Reason}); closing it.")]
        public static partial void MalformedPacket(ILogger logger, string sid, string reason);

        [LoggerMessage(102, LogLevel.Debug, "Socket.IO connection {Sid} joined no namespace within connectTimeout; closing it.")]
        public static partial void ConnectTimeout(ILogger logger, string sid);

        [LoggerMessage(103, LogLevel.Debug, "Socket.IO connection to namespace {Namespace} refused by middleware.")]
        public static partial void ConnectRefused(ILogger logger, string @namespace);

        [LoggerMessage(104, LogLevel.Error, "Socket.IO middleware of namespace {Namespace} threw.")]
        public static partial void MiddlewareFailed(ILogger logger, string @namespace, Exception exception);

        [LoggerMessage(105, LogLevel.Error, "Socket.IO handler for {Event} threw on socket {SocketId}.")]
        public static partial void HandlerFailed(ILogger logger, string @event, string socketId, Exception exception);

        [LoggerMessage(106, LogLevel.Error, "Socket.IO adapter operation failed.")]
        public static partial void AdapterFailed(ILogger logger, Exception exception);

        [LoggerMessage(107, LogLevel.Warning, "Connection state recovery is off in namespace {Namespace}: its adapter reaches other nodes but does not share lost sessions between them.")]
        public static partial void RecoveryOffInCluster(ILogger logger, string @namespace);
    }
}
