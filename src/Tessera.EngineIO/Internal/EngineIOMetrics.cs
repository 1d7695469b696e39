using System.Diagnostics.Metrics;

namespace Tessera.EngineIO.Internal;

/// <summary>
/// Engine.IO instruments (meter "Tessera.EngineIO", from the host's <see cref="IMeterFactory"/>): messages and bytes
/// each way, sessions closed as slow consumers. Free when nobody listens.
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
        SlowConsumers = meter.CreateCounter<long>("tessera.engineio.slow_consumers",
            description: "Sessions closed because their client did not read what was sent to it (MaxBufferedBytes or WriteTimeout)");
    }

    public Counter<long> MessagesIn { get; }

    public Counter<long> MessagesOut { get; }

    public Counter<long> BytesIn { get; }

    public Counter<long> BytesOut { get; }

    public Counter<long> SlowConsumers { get; }
}
