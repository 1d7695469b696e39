using Tessera.EngineIO;
using Tessera.SocketIO;
using Tessera.SocketIO.Internal.Parser;
using static Tessera.Fuzz.FuzzInput;

namespace Tessera.Fuzz;

/// <summary>
/// The msgpack parser's decoder on what a socket.io-msgpack-parser client sends: anything but a FormatException escapes
/// as a bug; a packet it accepts passes the server's validation or is refused by it, and re-encoded it decodes the same.
/// </summary>
public static class MsgPackParserTarget
{
    public static void Run(byte[] input)
    {
        SocketIOPacketContent? packet;
        try
        {
            packet = SocketIOParser.MessagePack.CreateDecoder().Add(new EngineIOMessage(input, isBinary: true));
        }
        catch (FormatException)
        {
            return;
        }
        Check(packet is not null, "a whole message gave no packet");
        Check(packet!.Type is >= 0 and <= 4, "a packet type outside 0..4");
        if (PacketValidation.FromContent(packet, out _) is null)
        {
            return;
        }
        var again = SocketIOParser.MessagePack.CreateDecoder().Add(new EngineIOMessage(SocketIOParser.MessagePack.Encode(packet)[0].Body, isBinary: true))!;
        Check(again.Type == packet.Type && again.Namespace == packet.Namespace && again.Id == packet.Id, "the header does not round-trip");
        Check(again.Data.ValueKind == packet.Data.ValueKind && (packet.Data.ValueKind == System.Text.Json.JsonValueKind.Undefined || again.Data.GetRawText() == packet.Data.GetRawText()), "the data does not round-trip");
        Check(again.Attachments.Count == packet.Attachments.Count, "the attachments do not round-trip");
    }
}
