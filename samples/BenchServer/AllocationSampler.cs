using System.Collections.Concurrent;
using System.Diagnostics.Tracing;

namespace Tessera.BenchServer;

/// <summary>
/// Diagnostics for tuning (BENCH_ALLOCATIONS=1): the runtime's allocation samples (one event per ~100 KB allocated)
/// counted by type, served at /stats/allocations. Not enabled in benchmark runs.
/// </summary>
internal sealed class AllocationSampler : EventListener
{
    private readonly ConcurrentDictionary<string, long> _bytes = new();

    protected override void OnEventSourceCreated(EventSource source)
    {
        if (source.Name == "Microsoft-Windows-DotNETRuntime")
        {
            // GC keyword (0x1) at verbose level carries GCAllocationTick.
            EnableEvents(source, EventLevel.Verbose, (EventKeywords)0x1);
        }
    }

    protected override void OnEventWritten(EventWrittenEventArgs e)
    {
        if (e.EventName is not { } name || !name.StartsWith("GCAllocationTick", StringComparison.Ordinal) || e.Payload is null)
        {
            return;
        }
        var type = e.PayloadNames!.IndexOf("TypeName") is var t and >= 0 ? e.Payload[t] as string ?? "?" : "?";
        var amount = e.PayloadNames.IndexOf("AllocationAmount64") is var a and >= 0 ? Convert.ToInt64(e.Payload[a], System.Globalization.CultureInfo.InvariantCulture) : 100_000;
        _bytes.AddOrUpdate(type, amount, (_, old) => old + amount);
    }

    public IEnumerable<KeyValuePair<string, long>> Top(int count) =>
        _bytes.OrderByDescending(p => p.Value).Take(count);
}
