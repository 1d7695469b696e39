namespace Tessera.EngineIO.Internal;

/// <summary>Node engine.io's handshake and request errors: code and message go in the JSON body of the 4xx.</summary>
internal enum ErrorCode
{
    TransportUnknown = 0,
    SessionIdUnknown = 1,
    BadHandshakeMethod = 2,
    BadRequest = 3,
    Forbidden = 4,
    UnsupportedProtocolVersion = 5,
}

internal static class Errors
{
    public static string Message(ErrorCode code) => code switch
    {
        ErrorCode.TransportUnknown => "Transport unknown",
        ErrorCode.SessionIdUnknown => "Session ID unknown",
        ErrorCode.BadHandshakeMethod => "Bad handshake method",
        ErrorCode.BadRequest => "Bad request",
        ErrorCode.Forbidden => "Forbidden",
        ErrorCode.UnsupportedProtocolVersion => "Unsupported protocol version",
        _ => "Bad request",
    };
}
