using System.Diagnostics.Metrics;

namespace Tessera.EngineIO.Internal;

/// <summary>
/// Engine.IO instruments (meter "Tessera.EngineIO", from the host's <see cref="IMeterFactory"/>): messages and bytes
/// each way. Free when nobody listens.
/// </summary>
internal sealed class EngineIOMetrics
{
    public const string MeterName = "Tessera.EngineIO";

    public EngineIOMetrics(IMeterFactory? factory)
    {
        // Without a factory (an endpoint built outside a host), a meter of its own, as before IMeterFactory.
        var meter = factory?.Create(MeterName) ?? new Meter(MeterName);
        MessagesIn = meter.CreateCounter<long>("tessera.engineio.messages.in", description: "Messages received from clients");
        MessagesOut = meter.CreateCounter<long>("tessera.engineio.messages.out", description: "Messages queued to clients");
        BytesIn = meter.CreateCounter<long>("tessera.engineio.bytes.in", "By", "Message bytes received");
        BytesOut = meter.CreateCounter<long>("tessera.engineio.bytes.out", "By", "Message bytes queued");
    }

    public Counter<long> MessagesIn { get; }

    public Counter<long> MessagesOut { get; }

    public Counter<long> BytesIn { get; }

    public Counter<long> BytesOut { get; }
}
