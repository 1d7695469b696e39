using Microsoft.Extensions.Logging;

namespace Tessera.EngineIO.Internal.Transports;

internal sealed partial class DirectWebSocketTransport
{
    private static partial class Log
    {
        [LoggerMessage(101, LogLevel.Debug, "Session {Sid}: closing the WebSocket with status {Status} (bad frame or message)", EventName = "DirectWebSocketRefused")]
        public static partial void DirectWebSocketRefused(ILogger logger, string sid, ushort status);

        [LoggerMessage(102, LogLevel.Debug, "Session {Sid}: the WebSocket connection failed ({Error})", EventName = "DirectWebSocketFailed")]
        public static partial void DirectWebSocketFailed(ILogger logger, string sid, string error);

        [LoggerMessage(104, LogLevel.Debug, "Session {Sid}: the client has not read what it was sent for {TimeoutMs} ms (WriteTimeout); closing the connection", EventName = "DirectWebSocketStalled")]
        public static partial void DirectWebSocketStalled(ILogger logger, string sid, long timeoutMs);
    }
}
