using System.Buffers;
using System.Text.Json;
using MessagePack;
using Tessera.SocketIO.Internal.Parser;
using static Tessera.Fuzz.FuzzInput;

namespace Tessera.Fuzz;

/// <summary>
/// The Redis adapter's msgpack decoder (MsgPackJson.ReadElement/Read), on what another node publishes: values
/// read one after another (a packet, then its options, as RedisAdapter.OnMessage reads them), then written back
/// (MsgPackJson.Write, what this node publishes) and read again. Malformed msgpack may only be refused with the
/// reader's own exceptions; a round trip of what was read must reach a fixed point (same JSON, same attachments).
/// </summary>
public static class MsgPackTarget
{
    private const int MaxValues = 8;

    public static void Run(byte[] input)
    {
        var first = Decode(input, out var attachments, refusable: true);
        if (first is null)
        {
            return;
        }
        var placeholders = 0;
        foreach (var element in first)
        {
            placeholders += CountPlaceholders(element, attachments.Count);
        }
        Check(placeholders >= attachments.Count, "a bin value did not become a placeholder");
        // Written back and read again twice: the second trip must change nothing (the first may normalise:
        // non-string keys, uint64 past long, non-finite floats, placeholder-like maps).
        var once = Encode(first, attachments);
        var second = Decode(once, out var attachments2, refusable: false)!;
        var twice = Encode(second, attachments2);
        var third = Decode(twice, out var attachments3, refusable: false)!;
        Check(second.Count == third.Count, "a different number of values after a second round trip");
        for (var i = 0; i < second.Count; i++)
        {
            Check(second[i].GetRawText() == third[i].GetRawText(), $"value {i} changes on a second round trip: {second[i].GetRawText()} / {third[i].GetRawText()}");
        }
        Check(attachments2.Count == attachments3.Count && attachments2.Zip(attachments3).All(p => p.First.AsSpan().SequenceEqual(p.Second)),
            "the attachments change on a second round trip");
        Check(once.AsSpan().SequenceEqual(twice), "the msgpack changes on a second round trip");

        // The JSON-bytes overload of Write (a SocketIOPacket's data) agrees with the element overload.
        var viaBytes = new ArrayBufferWriter<byte>();
        var writer = new MessagePackWriter(viaBytes);
        foreach (var element in second)
        {
            MsgPackJson.Write(ref writer, System.Text.Encoding.UTF8.GetBytes(element.GetRawText()), attachments2.Select(a => (ReadOnlyMemory<byte>)a).ToList());
        }
        writer.Flush();
        Check(viaBytes.WrittenSpan.SequenceEqual(twice), "Write(json bytes) differs from Write(element)");
    }

    private static List<JsonElement>? Decode(byte[] bytes, out List<byte[]> attachments, bool refusable)
    {
        attachments = [];
        var elements = new List<JsonElement>();
        var reader = new MessagePackReader(bytes);
        try
        {
            while (!reader.End && elements.Count < MaxValues)
            {
                var before = reader.Consumed;
                elements.Add(MsgPackJson.ReadElement(ref reader, attachments));
                Check(reader.Consumed > before, "a value read from no bytes");
            }
        }
        catch (Exception ex) when (refusable && ex is MessagePackSerializationException or EndOfStreamException)
        {
            // Malformed or truncated: RedisAdapter.OnMessage logs it at Debug and ignores the message.
            return null;
        }
        return elements;
    }

    private static byte[] Encode(List<JsonElement> elements, List<byte[]> attachments)
    {
        var buffer = new ArrayBufferWriter<byte>();
        var writer = new MessagePackWriter(buffer);
        foreach (var element in elements)
        {
            MsgPackJson.Write(ref writer, element, attachments);
        }
        writer.Flush();
        return buffer.WrittenSpan.ToArray();
    }

    private static int CountPlaceholders(JsonElement element, int count)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                // Maps that only look like placeholders count too, and so does what they hold: an upper bound.
                var self = element.TryGetProperty("_placeholder", out var flag) && flag.ValueKind == JsonValueKind.True
                    && element.TryGetProperty("num", out var n) && n.ValueKind == JsonValueKind.Number && n.TryGetInt32(out var num)
                    && num >= 0 && num < count ? 1 : 0;
                return self + element.EnumerateObject().Sum(p => CountPlaceholders(p.Value, count));
            case JsonValueKind.Array:
                return element.EnumerateArray().Sum(e => CountPlaceholders(e, count));
            default:
                return 0;
        }
    }
}
