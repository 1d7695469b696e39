using Microsoft.Extensions.Logging;

namespace Tessera.EngineIO.Internal;

internal sealed partial class EngineIOServer
{
    // Event ids 1-17 under the "Tessera.EngineIO" category; the direct path uses 101-104, the managed WebSocket transport 121-126.
    // Client misbehaviour is logged at Debug: a client's garbage must not fill an operator's logs.
    // Nothing here ever logs a URL or query string, which may carry tokens.
    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Debug, "Engine.IO session {Sid} opened over {Transport}.")]
        public static partial void SessionOpened(ILogger logger, string sid, string transport);

        [LoggerMessage(2, LogLevel.Debug, "Engine.IO session {Sid} closed: {Reason}.")]
        public static partial void SessionClosed(ILogger logger, string sid, string reason);

        [LoggerMessage(3, LogLevel.Debug, "Engine.IO request refused with error code {Code} ({Method}).")]
        public static partial void BadRequest(ILogger logger, int code, string method);

        [LoggerMessage(4, LogLevel.Debug, "Engine.IO handshake refused by AllowRequest with status {Status}.")]
        public static partial void HandshakeRefused(ILogger logger, int status);

        [LoggerMessage(5, LogLevel.Debug, "Engine.IO session {Sid}: concurrent {Method} requests; closing the session.")]
        public static partial void Overlap(ILogger logger, string sid, string method);

        [LoggerMessage(6, LogLevel.Debug, "Engine.IO session {Sid}: payload of {Length} bytes exceeds maxPayload; closing the session.")]
        public static partial void PayloadTooLarge(ILogger logger, string sid, int length);

        [LoggerMessage(7, LogLevel.Debug, "Engine.IO session {Sid}: malformed packet; closing the session.")]
        public static partial void ParseError(ILogger logger, string sid);





        [LoggerMessage(12, LogLevel.Debug, "Engine.IO request aborted by the client ({Error}).")]
        public static partial void RequestAborted(ILogger logger, string error);

        [LoggerMessage(13, LogLevel.Error, "Engine.IO request failed.")]
        public static partial void RequestFailed(ILogger logger, Exception exception);

        [LoggerMessage(14, LogLevel.Error, "Engine.IO handler {Method} threw for session {Sid}.")]
        public static partial void HandlerFailed(ILogger logger, string method, string sid, Exception exception);

        [LoggerMessage(15, LogLevel.Debug, "Engine.IO session {Sid}: WebSocket for a session that cannot upgrade; closed at once.")]
        public static partial void UpgradeIgnored(ILogger logger, string sid);

        [LoggerMessage(16, LogLevel.Debug, "Engine.IO session {Sid}: the client does not read what it is sent ({Bytes} bytes waiting); closing the session as a slow consumer.")]
        public static partial void SlowConsumer(ILogger logger, string sid, long bytes);

        [LoggerMessage(17, LogLevel.Debug, "Engine.IO handshake refused: the client's address already has {Limit} sessions open (MaxConnectionsPerAddress).")]
        public static partial void TooManyConnections(ILogger logger, int limit);

        [LoggerMessage(18, LogLevel.Debug, "Engine.IO handshake refused: the client's address opened more than {PerSecond} sessions a second (MaxHandshakesPerSecondPerAddress).")]
        public static partial void TooManyHandshakes(ILogger logger, int perSecond);
    }
}
