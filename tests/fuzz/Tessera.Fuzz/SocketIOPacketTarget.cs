using System.Buffers;
using System.Text;
using System.Text.Json;
using Tessera.SocketIO;
using Tessera.SocketIO.Internal.Parser;
using static Tessera.Fuzz.FuzzInput;

namespace Tessera.Fuzz;

/// <summary>
/// The Socket.IO packet decoder with attachments: PacketDecoder.Decode on a text packet, the placeholder check
/// Client.OnMessageAsync makes before it waits for the attachments, then what a handler does with the arguments
/// (SocketIOArgs: indexer, GetBytes, Get&lt;T&gt;, and relaying them, which re-attaches the binary parts). The
/// relayed arguments must decode again to the same attachments.
/// </summary>
public static class SocketIOPacketTarget
{
    private static readonly JsonSerializerOptions Options = SocketIOOptions.CreateSerializerOptions();

    private static readonly HashSet<string> Reasons =
        ["unknown packet type", "illegal attachments", "namespace too long", "invalid namespace", "invalid ack id", "invalid payload"];

    public static void Run(byte[] input)
    {
        var packet = PacketDecoder.Decode(input, out var error);
        if (packet is null)
        {
            Check(error is not null && Reasons.Contains(error), $"refused with an unknown reason: {error}");
            return;
        }
        Check(error is null, "a decoded packet with an error");
        CheckPacket(packet, input.Length);
        if (!packet.IsComplete)
        {
            // Client.OnMessageAsync: every placeholder must point at one of the attachments announced.
            if (!PlaceholdersInRange(packet.Data, packet.Attachments))
            {
                return;
            }
            packet.Buffers = [];
            for (var i = 0; i < packet.Attachments; i++)
            {
                packet.Buffers.Add([(byte)i, 0xFF, (byte)(i * 7)]);
                Check(packet.IsComplete == (i == packet.Attachments - 1), "IsComplete before every attachment arrived");
            }
        }
        Check(packet.IsComplete, "a packet without attachments is not complete");
        Handle(packet);
    }

    private static void CheckPacket(Packet packet, int inputLength)
    {
        Check(packet.Type is >= PacketType.Connect and <= PacketType.BinaryAck, "an unknown type decoded");
        var binary = packet.Type is PacketType.BinaryEvent or PacketType.BinaryAck;
        Check(binary ? packet.Attachments is >= 1 and <= PacketDecoder.MaxAttachments : packet.Attachments == 0, $"{packet.Attachments} attachments for {packet.Type}");
        Check(packet.Namespace.StartsWith('/') && Encoding.UTF8.GetByteCount(packet.Namespace) <= Math.Min(PacketDecoder.MaxNamespaceLength, inputLength), "a bad namespace decoded");
        Check(packet.Id is -1 or (>= 0 and <= 9_007_199_254_740_991), $"ack id {packet.Id}");
        var kind = packet.Data.ValueKind;
        Check(packet.Type switch
        {
            PacketType.Connect => kind is JsonValueKind.Object or JsonValueKind.Undefined,
            PacketType.Disconnect => kind is JsonValueKind.Undefined,
            PacketType.ConnectError => kind is JsonValueKind.Object or JsonValueKind.String or JsonValueKind.Undefined,
            PacketType.Event or PacketType.BinaryEvent => kind == JsonValueKind.Array && packet.Data.GetArrayLength() > 0
                && (packet.Data[0].ValueKind == JsonValueKind.Number
                    || (packet.Data[0].ValueKind == JsonValueKind.String && !PacketDecoder.IsReservedEvent(packet.Data[0].GetString()!))),
            _ => kind is JsonValueKind.Array or JsonValueKind.Undefined,
        }, $"{kind} data for {packet.Type}");
    }

    /// <summary>What SocketIOSocket.OnPacket and a handler do with a complete event or ack.</summary>
    private static void Handle(Packet packet)
    {
        if (packet.Type is not (PacketType.Event or PacketType.BinaryEvent or PacketType.Ack or PacketType.BinaryAck))
        {
            return;
        }
        var isEvent = packet.Type is PacketType.Event or PacketType.BinaryEvent;
        if (isEvent)
        {
            var first = packet.Data[0];
            var name = first.ValueKind == JsonValueKind.String ? first.GetString()! : first.GetRawText();
            Check(name is not null, "no event name");
        }
        var args = new SocketIOArgs(packet.Data, isEvent ? 1 : 0, packet.Buffers, Options);
        for (var i = 0; i < args.Count; i++)
        {
            _ = args[i];
            if (args.GetBytes(i) is { } bytes)
            {
                Check(packet.Buffers!.Any(b => ReferenceEquals(b, bytes)), "GetBytes returned bytes that are not an attachment");
            }
            _ = args.GetValue(i).ToString();
            Refusable(() => args.Get<JsonElement>(i));
            Refusable(() => args.Get<byte[]>(i));
            Refusable(() => args.Get<ReadOnlyMemory<byte>>(i));
            Refusable(() => args.Get<Dictionary<string, JsonElement>>(i));
            Refusable(() => args.Get<string>(i));
            Refusable(() => args.Get<double>(i));
        }
        Relay(args, packet);
    }

    /// <summary>Emitting the arguments again (a relay): re-encoded, the placeholders point at the same bytes.</summary>
    private static void Relay(SocketIOArgs args, Packet packet)
    {
        var json = new ArrayBufferWriter<byte>();
        ReadOnlyMemory<byte>[]? attachments;
        BinaryContext.BeginOutgoing();
        using (var writer = new Utf8JsonWriter(json))
        {
            writer.WriteStartArray();
            writer.WriteStringValue("relay");
            args.WriteItems(writer);
            writer.WriteEndArray();
        }
        attachments = BinaryContext.EndOutgoing();
        var count = attachments?.Length ?? 0;
        foreach (var attachment in attachments ?? [])
        {
            Check(packet.Buffers is { } buffers && buffers.Any(b => b.AsSpan().SequenceEqual(attachment.Span)), "a relayed attachment that the packet did not carry");
        }
        if (count > PacketDecoder.MaxAttachments)
        {
            // More placeholders than one packet may announce: a client may send that many references to ten
            // attachments, and the relay is refused by the other side's decoder, as Node's would be.
            return;
        }
        var text = new ArrayBufferWriter<byte>();
        text.Write(count == 0 ? "2"u8 : Encoding.ASCII.GetBytes($"5{count}-"));
        text.Write(json.WrittenSpan);
        var again = PacketDecoder.Decode(text.WrittenSpan, out var error);
        Check(again is not null, $"a relayed event does not decode: {error}");
        // (Without attachments, objects that look like placeholders are plain data, in Node too.)
        Check(again!.Attachments == count && (count == 0 || PlaceholdersInRange(again.Data, count)), "a relayed event's placeholders are out of range");
        Check(CountPlaceholders(again.Data, count) == count, "a relayed event's placeholders do not match its attachments");
    }

    private static void Refusable(Action get)
    {
        try
        {
            get();
        }
        catch (JsonException)
        {
            // The argument does not bind to the type asked for: the handler's to handle.
        }
    }

    private static int CountPlaceholders(JsonElement element, int count)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                if (BinaryContext.TryGetPlaceholder(element, count, out _))
                {
                    return 1;
                }
                return element.EnumerateObject().Sum(p => CountPlaceholders(p.Value, count));
            case JsonValueKind.Array:
                return element.EnumerateArray().Sum(e => CountPlaceholders(e, count));
            default:
                return 0;
        }
    }

    /// <summary>The check Client makes before the attachments are awaited (the production code itself).</summary>
    public static bool PlaceholdersInRange(JsonElement element, int count) => Tessera.SocketIO.Internal.Parser.PacketValidation.PlaceholdersInRange(element, count);
}
