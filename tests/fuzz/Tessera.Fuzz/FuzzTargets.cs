namespace Tessera.Fuzz;

/// <summary>
/// The fuzzing targets by name (the first argument of Tessera.Fuzz, the folder names under tests/fuzz/corpus).
/// Each takes one input; input the code under test refuses is fine, and only a real bug escapes: an exception the
/// production caller would not handle, a broken invariant (<see cref="FuzzBugException"/>), a loop that does not
/// advance, or an allocation out of proportion to the input.
/// </summary>
public static class FuzzTargets
{
    public static IReadOnlyDictionary<string, Action<byte[]>> All { get; } = new Dictionary<string, Action<byte[]>>(StringComparer.Ordinal)
    {
        ["polling"] = PollingPayloadTarget.Run,
        ["polling-v3"] = PayloadV3Target.Run,
        ["websocket"] = WebSocketTarget.Run,
        ["upgrade"] = UpgradeRequestTarget.Run,
        ["socketio"] = SocketIOPacketTarget.Run,
        ["msgpack"] = MsgPackTarget.Run,
        ["msgpack-parser"] = MsgPackParserTarget.Run,
        ["tokens"] = TokenSourcesTarget.Run,
    };
}

/// <summary>A target's invariant does not hold: a bug in the code under test (or in the target).</summary>
public sealed class FuzzBugException(string message) : Exception(message);

internal static class FuzzInput
{
    /// <summary>AFL's inputs stay far below this; a larger one is cut rather than read without bound.</summary>
    public const int MaxLength = 1 << 20;

    public static byte[] ReadAll(Stream stream)
    {
        using var memory = new MemoryStream();
        var buffer = new byte[16 * 1024];
        int read;
        while (memory.Length < MaxLength && (read = stream.Read(buffer, 0, (int)Math.Min(buffer.Length, MaxLength - memory.Length))) > 0)
        {
            memory.Write(buffer, 0, read);
        }
        return memory.ToArray();
    }

    public static void Check(bool condition, string invariant)
    {
        if (!condition)
        {
            throw new FuzzBugException(invariant);
        }
    }
}
