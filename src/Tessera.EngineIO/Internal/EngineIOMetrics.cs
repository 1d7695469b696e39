using System.Diagnostics.Metrics;

namespace Tessera.EngineIO.Internal;

/// <summary>Engine.IO instruments (meter "Tessera.EngineIO"): messages and bytes each way. Free when nobody listens.</summary>
internal static class EngineIOMetrics
{
    public static readonly Meter Meter = new("Tessera.EngineIO");
    public static readonly Counter<long> MessagesIn = Meter.CreateCounter<long>("tessera.engineio.messages.in", description: "Messages received from clients");
    public static readonly Counter<long> MessagesOut = Meter.CreateCounter<long>("tessera.engineio.messages.out", description: "Messages queued to clients");
    public static readonly Counter<long> BytesIn = Meter.CreateCounter<long>("tessera.engineio.bytes.in", "By", "Message bytes received");
    public static readonly Counter<long> BytesOut = Meter.CreateCounter<long>("tessera.engineio.bytes.out", "By", "Message bytes queued");
}
