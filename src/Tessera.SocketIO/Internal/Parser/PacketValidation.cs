using System.Text.Json;

namespace Tessera.SocketIO.Internal.Parser;

/// <summary>The checks every decoded packet passes, whatever parser decoded it (Node's socket.io-parser isPayloadValid, plus limits).</summary>
internal static class PacketValidation
{
    /// <summary>BINARY_EVENT / BINARY_ACK reported as EVENT / ACK, as packet contents carry them.</summary>
    public static int PlainType(PacketType type) => type switch
    {
        PacketType.BinaryEvent => (int)PacketType.Event,
        PacketType.BinaryAck => (int)PacketType.Ack,
        _ => (int)type,
    };

    /// <summary>A packet another parser decoded, as the server's own; null with a short reason when it breaks a rule.</summary>
    public static Packet? FromContent(SocketIOPacketContent content, out string? error)
    {
        error = null;
        var type = (PacketType)content.Type;
        var attachments = content.Attachments.Count;
        if (attachments > 0)
        {
            type = type switch
            {
                PacketType.Event => PacketType.BinaryEvent,
                PacketType.Ack => PacketType.BinaryAck,
                _ => type,
            };
        }
        if (content.Namespace is not { Length: > 0 } nsp || nsp[0] != '/' || nsp.Length > PacketDecoder.MaxNamespaceLength)
        {
            error = "invalid namespace";
            return null;
        }
        if (content.Id < -1 || content.Id > PacketDecoder.MaxAckId)
        {
            error = "invalid ack id";
            return null;
        }
        var data = content.Data;
        var valid = data.ValueKind == JsonValueKind.Undefined
            ? type is not (PacketType.Event or PacketType.BinaryEvent or PacketType.Ack or PacketType.BinaryAck)
            : PacketDecoder.IsPayloadValid(type, data) && PlaceholdersInRange(data, attachments);
        if (!valid)
        {
            error = "invalid payload";
            return null;
        }
        return new Packet
        {
            Type = type,
            Namespace = nsp,
            Id = content.Id,
            Data = data,
            Attachments = attachments,
            Buffers = attachments > 0 ? [.. content.Attachments] : null,
        };
    }

    /// <summary>Whether every placeholder points at one of <paramref name="count"/> attachments (the fuzz target calls it).</summary>
    public static bool PlaceholdersInRange(JsonElement element, int count)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                if (element.TryGetProperty("_placeholder", out var flag) && flag.ValueKind == JsonValueKind.True)
                {
                    return BinaryContext.TryGetPlaceholder(element, count, out _);
                }
                foreach (var property in element.EnumerateObject())
                {
                    if (!PlaceholdersInRange(property.Value, count))
                    {
                        return false;
                    }
                }
                return true;
            case JsonValueKind.Array:
                foreach (var item in element.EnumerateArray())
                {
                    if (!PlaceholdersInRange(item, count))
                    {
                        return false;
                    }
                }
                return true;
            default:
                return true;
        }
    }
}
