using System.Text.Json;
using Tessera.EngineIO;

namespace Tessera.SocketIO.Internal.Parser;

/// <summary>
/// What Socket.IO protocol v4 (socket.io-client 2.x, over Engine.IO v3) does differently from v5; the packet format is
/// otherwise the same. The main namespace is joined without a CONNECT; a CONNECT to another carries its auth as the
/// namespace's query (<c>0/chat?token=…,</c>); the reply is a bare CONNECT; a refusal is an ERROR packet (type 4) whose
/// payload is the error's data alone (Node: <c>socket._error(err.data || err.message)</c>); socket ids are the
/// Engine.IO id, behind <c>&lt;nsp&gt;#</c> outside the main namespace, as the client computes them itself.
/// </summary>
internal static class ProtocolV4
{
    /// <summary>Whether a socket of this connection speaks protocol v4.</summary>
    public static bool IsV4(EngineIOSocket engine) => engine.Protocol == 3;

    /// <summary><c>/chat?token=abc</c> → (<c>/chat</c>, <c>{"token":"abc"}</c>), as Node's URL parse; no query → empty auth.</summary>
    public static (string Name, JsonElement Auth) SplitNamespace(string nsp)
    {
        var question = nsp.IndexOf('?', StringComparison.Ordinal);
        if (question < 0)
        {
            return (nsp, SocketIOHandshake.EmptyObject);
        }
        var query = Microsoft.AspNetCore.WebUtilities.QueryHelpers.ParseQuery(nsp[question..]);
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            foreach (var (key, values) in query)
            {
                // URLSearchParams → Object.fromEntries: the last value of a repeated key wins.
                writer.WriteString(key, values.Count > 0 ? values[^1] : "");
            }
            writer.WriteEndObject();
        }
        return (nsp[..question], JsonDocument.Parse(buffer.ToArray()).RootElement.Clone());
    }

    /// <summary>The socket id a v4 client computes: the Engine.IO id, behind <c>&lt;nsp&gt;#</c> outside the main namespace.</summary>
    public static string SocketId(string nsp, EngineIOSocket engine) => nsp == "/" ? engine.Id : nsp + "#" + engine.Id;
}
