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
        var again = RoundTrip(packet);
        Check(again.Type == packet.Type && again.Namespace == packet.Namespace && again.Id == packet.Id, "the header does not round-trip");
        Check(again.Data.ValueKind == packet.Data.ValueKind, "the data's kind does not round-trip");
        Check(again.Attachments.Count == packet.Attachments.Count, "the attachments do not round-trip");
        // A number may take another form once (a float -0.0 or 2.0 goes back as the integer 0 or 2, as JavaScript's
        // numbers would); from then on the encoding is a fixed point.
        var third = RoundTrip(again);
        Check(again.Data.ValueKind == System.Text.Json.JsonValueKind.Undefined || third.Data.GetRawText() == again.Data.GetRawText(), "the data does not round-trip");
    }

    private static SocketIOPacketContent RoundTrip(SocketIOPacketContent packet) =>
        SocketIOParser.MessagePack.CreateDecoder().Add(new EngineIOMessage(SocketIOParser.MessagePack.Encode(packet)[0].Body, isBinary: true))!;
}
