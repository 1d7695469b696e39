using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text;

namespace Tessera.Server;

/// <summary>
/// Collects the Tessera.* meters (System.Diagnostics.Metrics) and renders them in the Prometheus text format for
/// GET /metrics: counters as <c>name_total</c>, gauges observed at scrape time.
/// </summary>
public sealed class PrometheusMetrics : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly ConcurrentDictionary<(string Name, string Labels), double> _counters = new();
    private readonly ConcurrentDictionary<string, (string Type, string? Description)> _instruments = new(StringComparer.Ordinal);
    private readonly Lock _scrape = new();
    private Dictionary<(string Name, string Labels), double>? _gauges;

    public PrometheusMetrics()
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (!instrument.Meter.Name.StartsWith("Tessera.", StringComparison.Ordinal))
            {
                return;
            }
            var gauge = instrument.GetType().Name.StartsWith("ObservableGauge", StringComparison.Ordinal);
            _instruments[MetricName(instrument.Name, gauge)] = (gauge ? "gauge" : "counter", instrument.Description);
            listener.EnableMeasurementEvents(instrument);
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) => Record(instrument, value, tags));
        _listener.SetMeasurementEventCallback<int>((instrument, value, tags, _) => Record(instrument, value, tags));
        _listener.SetMeasurementEventCallback<double>((instrument, value, tags, _) => Record(instrument, value, tags));
        _listener.Start();
    }

    private void Record(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        var gauge = instrument.GetType().Name.StartsWith("ObservableGauge", StringComparison.Ordinal);
        var key = (MetricName(instrument.Name, gauge), Labels(tags));
        if (gauge)
        {
            // Observed only during a scrape, under the scrape lock.
            var gauges = _gauges;
            if (gauges is not null)
            {
                gauges[key] = gauges.GetValueOrDefault(key) + value;
            }
            return;
        }
        _counters.AddOrUpdate(key, value, (_, current) => current + value);
    }

    private static string MetricName(string name, bool gauge) => name.Replace('.', '_') + (gauge ? string.Empty : "_total");

    private static string Labels(ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        if (tags.IsEmpty)
        {
            return string.Empty;
        }
        var parts = new List<string>(tags.Length);
        foreach (var (key, value) in tags)
        {
            var text = Convert.ToString(value, CultureInfo.InvariantCulture) ?? string.Empty;
            parts.Add($"{key}=\"{text.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal)}\"");
        }
        parts.Sort(StringComparer.Ordinal);
        return "{" + string.Join(",", parts) + "}";
    }

    public string Render()
    {
        Dictionary<(string Name, string Labels), double> gauges;
        lock (_scrape)
        {
            _gauges = gauges = [];
            _listener.RecordObservableInstruments();
            _gauges = null;
        }
        var text = new StringBuilder();
        foreach (var (name, (type, description)) in _instruments.OrderBy(i => i.Key, StringComparer.Ordinal))
        {
            if (description is not null)
            {
                text.Append("# HELP ").Append(name).Append(' ').Append(description).Append('\n');
            }
            text.Append("# TYPE ").Append(name).Append(' ').Append(type).Append('\n');
            IEnumerable<KeyValuePair<(string Name, string Labels), double>> series = type == "gauge" ? gauges : _counters;
            var any = false;
            foreach (var ((metric, labels), value) in series.Where(s => s.Key.Name == name).OrderBy(s => s.Key.Labels, StringComparer.Ordinal))
            {
                text.Append(metric).Append(labels).Append(' ').Append(value.ToString("R", CultureInfo.InvariantCulture)).Append('\n');
                any = true;
            }
            if (!any && type == "counter")
            {
                text.Append(name).Append(" 0\n");
            }
        }
        return text.ToString();
    }

    public void Dispose() => _listener.Dispose();
}
