namespace Tessera.EngineIO.Internal;

/// <summary>Why a session ended. Mapped to Node's strings only where the handler is told (<see cref="CloseReasons.ToNodeString"/>).</summary>
internal enum CloseReason : byte
{
    /// <summary>The client closed the connection or sent a close packet.</summary>
    TransportClose,

    /// <summary>The transport failed: a write error, an aborted poll, an over-size message.</summary>
    TransportError,

    /// <summary>No pong within pingInterval + pingTimeout.</summary>
    PingTimeout,

    /// <summary>A malformed packet or payload.</summary>
    ParseError,

    /// <summary>The application closed the session.</summary>
    ForcedClose,

    /// <summary>The host is stopping.</summary>
    ServerShuttingDown,
}

internal static class CloseReasons
{
    /// <summary>The reason as Node's engine.io names it (what <c>EngineIOHandler.OnCloseAsync</c> receives).</summary>
    public static string ToNodeString(this CloseReason reason) => reason switch
    {
        CloseReason.TransportClose => "transport close",
        CloseReason.TransportError => "transport error",
        CloseReason.PingTimeout => "ping timeout",
        CloseReason.ParseError => "parse error",
        CloseReason.ForcedClose => "forced close",
        _ => "server shutting down",
    };
}
