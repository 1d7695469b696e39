using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;

namespace Tessera.Hostile;

/// <summary>What the legitimate clients saw during one phase (the quiet baseline or one attack).</summary>
internal sealed class Phase(string name)
{
    private readonly Lock _lock = new();
    private readonly List<double> _acks = new(50_000);
    private readonly List<double> _deliveries = new(500_000);
    private readonly List<double> _lags = new(50_000);
    private readonly Dictionary<string, long> _errors = [];
    private readonly SortedDictionary<int, int> _slowBySecond = [];
    private readonly long _started = Stopwatch.GetTimestamp();
    private long _sent;

    public string Name { get; } = name;

    public void Sent() => Interlocked.Increment(ref _sent);

    public void Ack(double milliseconds)
    {
        lock (_lock)
        {
            _acks.Add(milliseconds);
            if (milliseconds > 50)
            {
                // When in the phase the slow acks came (second → count): a ramp-up, a pause, or all along.
                var second = (int)Stopwatch.GetElapsedTime(_started).TotalSeconds;
                _slowBySecond[second] = _slowBySecond.GetValueOrDefault(second) + 1;
            }
        }
    }

    public void Delivery(double milliseconds)
    {
        lock (_lock)
        {
            if (_deliveries.Count < 2_000_000)
            {
                _deliveries.Add(milliseconds);
            }
        }
    }

    /// <summary>How late the tool's own canary thread woke up: load-generator noise, not the server's.</summary>
    public void Lag(double milliseconds)
    {
        lock (_lock)
        {
            if (_lags.Count < 1_000_000)
            {
                _lags.Add(milliseconds);
            }
        }
    }

    public void Error(string reason)
    {
        lock (_lock)
        {
            _errors[reason] = _errors.GetValueOrDefault(reason) + 1;
        }
    }

    public LegitimateFigures Figures()
    {
        lock (_lock)
        {
            double[] acks = [.. _acks.Order()];
            double[] deliveries = [.. _deliveries.Order()];
            double[] lags = [.. _lags.Order()];
            return new LegitimateFigures(Interlocked.Read(ref _sent), acks.Length, Percentile(acks, 0.50), Percentile(acks, 0.99),
                acks.Length == 0 ? 0 : Math.Round(acks[^1], 2), deliveries.Length, Percentile(deliveries, 0.50), Percentile(deliveries, 0.99),
                Percentile(lags, 0.99), _errors.Values.Sum(), new Dictionary<string, long>(_errors),
                _slowBySecond.ToDictionary(p => p.Key.ToString(CultureInfo.InvariantCulture), p => p.Value));
        }
    }

    private static double Percentile(double[] sorted, double p) =>
        sorted.Length == 0 ? 0 : Math.Round(sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(p * sorted.Length) - 1)], 3);
}

internal sealed record LegitimateFigures(
    long Sent, long Acked, double AckP50Ms, double AckP99Ms, double AckMaxMs,
    long Deliveries, double DeliveryP50Ms, double DeliveryP99Ms, double ClientLagP99Ms, long Errors, Dictionary<string, long> ErrorsByReason,
    Dictionary<string, int> AcksOver50MsBySecond);

/// <summary>The phase being measured now; messages sent outside any phase (warm-up, cool-down) are not counted.</summary>
internal sealed class Recorder
{
    private volatile Phase? _current;

    public Phase? Current => _current;

    public void Begin(Phase phase) => _current = phase;

    public void End() => _current = null;
}

/// <summary>Accounts for the clients: registered and logged in over HTTP (CONTRACT §4), as a user would.</summary>
internal static class Accounts
{
    public const string Password = "hostile-load-password";

    public static async Task<string[]> TokensAsync(Uri url, string prefix, int count, int parallelism)
    {
        using var http = new HttpClient { BaseAddress = url, Timeout = TimeSpan.FromSeconds(60) };
        var tokens = new string[count];
        await Parallel.ForEachAsync(Enumerable.Range(0, count), new ParallelOptions { MaxDegreeOfParallelism = parallelism }, async (i, ct) =>
        {
            var username = prefix + i.ToString("D3", CultureInfo.InvariantCulture);
            using var registered = await http.PostAsJsonAsync("/auth/register", new { username, password = Password }, ct);
            if (!registered.IsSuccessStatusCode && registered.StatusCode != System.Net.HttpStatusCode.Conflict)
            {
                throw new InvalidOperationException($"register {username}: {(int)registered.StatusCode} {await registered.Content.ReadAsStringAsync(ct)}");
            }
            using var login = await http.PostAsJsonAsync("/auth/login", new { username, password = Password }, ct);
            var body = await login.Content.ReadAsStringAsync(ct);
            if (!login.IsSuccessStatusCode)
            {
                throw new InvalidOperationException($"login {username}: {(int)login.StatusCode} {body} (start the server with --Tessera:Auth:LoginsPerMinutePerAddress=100000)");
            }
            tokens[i] = JsonDocument.Parse(body).RootElement.GetProperty("token").GetString()!;
        });
        return tokens;
    }
}

/// <summary>
/// One legitimate user: an authenticated Socket.IO client over WebSocket that joins a chat room and sends
/// <c>chat:message</c> with an ack at a fixed rate (open loop: a slow server does not slow the sender down, so no
/// latency is hidden), answers heartbeats, and reads every message of its room. An error is anything a user would
/// notice: a refusal ack, an ack later than the timeout, a lost connection, a message that could not be sent.
/// </summary>
internal sealed class LegitimateClient(int index, string token, string room, Options options, Recorder recorder)
{
    private static readonly TimeSpan AckTimeout = TimeSpan.FromSeconds(5);
    private readonly ConcurrentDictionary<int, (long Timestamp, Phase? Phase)> _pending = new();
    private volatile RawWebSocket? _ws;
    private int _id;

    public int Reconnects { get; private set; }

    /// <summary>Connects, authenticates and joins the room; throws if any step fails.</summary>
    public async Task ConnectAsync(CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(10));
        var ws = await RawWebSocket.ConnectAsync(options.Server, options.Legitimate, Options.SocketPath, timeout.Token);
        try
        {
            var open = await ws.ReadTextAsync(timeout.Token);
            if (!open.StartsWith('0'))
            {
                throw new InvalidOperationException("no open packet: " + open);
            }
            await ws.SendTextAsync("40{\"token\":\"" + token + "\"}", timeout.Token);
            await ExpectAsync(ws, "40", timeout.Token);
            await ws.SendTextAsync("420[\"chat:join\",{\"room\":\"" + room + "\"}]", timeout.Token);
            var joined = await ExpectAsync(ws, "430", timeout.Token);
            if (!joined.Contains("\"ok\":true", StringComparison.Ordinal))
            {
                throw new InvalidOperationException("chat:join refused: " + joined);
            }
            _ws = ws;
        }
        catch
        {
            ws.Dispose();
            throw;
        }
    }

    private static async Task<string> ExpectAsync(RawWebSocket ws, string prefix, CancellationToken cancellationToken)
    {
        for (var i = 0; i < 1000; i++)
        {
            var message = await ws.ReadTextAsync(cancellationToken);
            if (message == "2")
            {
                await ws.SendTextAsync("3", cancellationToken);
            }
            else if (message.StartsWith(prefix, StringComparison.Ordinal))
            {
                return message;
            }
            else if (message.StartsWith("44", StringComparison.Ordinal))
            {
                throw new InvalidOperationException("refused: " + message);
            }
        }
        throw new InvalidOperationException("no " + prefix + " reply");
    }

    /// <summary>Reads (and reconnects, bounded) until <paramref name="stop"/>.</summary>
    public async Task ReceiveAsync(CancellationToken stop)
    {
        while (!stop.IsCancellationRequested && Reconnects < 100)
        {
            var ws = _ws;
            if (ws is null)
            {
                try
                {
                    Reconnects++;
                    await ConnectAsync(stop);
                }
                catch (Exception) when (!stop.IsCancellationRequested)
                {
                    recorder.Current?.Error("reconnect_failed");
                    await Delay(TimeSpan.FromMilliseconds(500), stop);
                }
                catch (Exception)
                {
                    return;
                }
                continue;
            }
            try
            {
                while (true)
                {
                    var message = await ws.ReadTextAsync(stop);
                    Handle(ws, message, stop);
                }
            }
            catch (Exception) when (stop.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                recorder.Current?.Error("disconnected (" + (ex is ClosedByServerException ? "by the server" : ex.GetType().Name) + ")");
                _ws = null;
                ws.Dispose();
                foreach (var (id, pending) in _pending)
                {
                    if (_pending.TryRemove(id, out _))
                    {
                        pending.Phase?.Error("ack_lost_with_connection");
                    }
                }
                await Delay(TimeSpan.FromMilliseconds(200), stop);
            }
        }
    }

    private void Handle(RawWebSocket ws, string message, CancellationToken stop)
    {
        if (message == "2")
        {
            _ = SendQuietlyAsync(ws, "3", stop);
        }
        else if (message.StartsWith("43", StringComparison.Ordinal))
        {
            var digits = message.AsSpan(2);
            var end = digits.IndexOf('[');
            if (end > 0 && int.TryParse(digits[..end], NumberStyles.None, CultureInfo.InvariantCulture, out var id) && _pending.TryRemove(id, out var pending))
            {
                if (message.Contains("\"ok\":true", StringComparison.Ordinal))
                {
                    pending.Phase?.Ack(Stopwatch.GetElapsedTime(pending.Timestamp).TotalMilliseconds);
                }
                else
                {
                    pending.Phase?.Error("refused ack " + message[(2 + end)..]);
                }
            }
        }
        else if (message.StartsWith("42[\"chat:message\"", StringComparison.Ordinal))
        {
            // The text carries the sender's Stopwatch timestamp (same process): the delivery latency.
            var at = message.IndexOf("\"text\":\"t", StringComparison.Ordinal);
            if (at > 0)
            {
                var digits = message.AsSpan(at + 9);
                var end = digits.IndexOf(' ');
                if (end > 0 && long.TryParse(digits[..end], NumberStyles.None, CultureInfo.InvariantCulture, out var sent))
                {
                    recorder.Current?.Delivery(Stopwatch.GetElapsedTime(sent).TotalMilliseconds);
                }
            }
        }
        else if (message.StartsWith("41", StringComparison.Ordinal) || message.StartsWith("44", StringComparison.Ordinal))
        {
            throw new ClosedByServerException("Socket.IO disconnect: " + message);
        }
    }

    private static async Task SendQuietlyAsync(RawWebSocket ws, string text, CancellationToken stop)
    {
        try
        {
            await ws.SendTextAsync(text, stop);
        }
        catch (Exception)
        {
            // The receive loop sees the broken connection.
        }
    }

    /// <summary>Sends at <paramref name="perSecond"/> (first send at a random phase) until <paramref name="stop"/>.</summary>
    public async Task SendAsync(double perSecond, CancellationToken stop)
    {
        var period = Stopwatch.Frequency / perSecond;
        var next = Stopwatch.GetTimestamp() + (long)(Random.Shared.NextDouble() * period);
        var sequence = 0L;
        while (!stop.IsCancellationRequested && sequence < 10_000_000)
        {
            var wait = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), next);
            if (wait > TimeSpan.Zero)
            {
                await Delay(wait, stop);
                if (stop.IsCancellationRequested)
                {
                    return;
                }
            }
            next += (long)period;
            sequence++;
            var phase = recorder.Current;
            var ws = _ws;
            if (ws is null)
            {
                phase?.Error("not_connected");
                continue;
            }
            var id = Interlocked.Increment(ref _id);
            var timestamp = Stopwatch.GetTimestamp();
            _pending[id] = (timestamp, phase);
            phase?.Sent();
            var text = "t" + timestamp.ToString(CultureInfo.InvariantCulture) + " hello from " + index.ToString(CultureInfo.InvariantCulture);
            try
            {
                await ws.SendTextAsync("42" + id.ToString(CultureInfo.InvariantCulture) + "[\"chat:message\",{\"room\":\"" + room + "\",\"text\":\"" + text + "\"}]", stop);
            }
            catch (Exception) when (!stop.IsCancellationRequested)
            {
                if (_pending.TryRemove(id, out _))
                {
                    phase?.Error("send_failed");
                }
            }
            catch (Exception)
            {
                return;
            }
        }
    }

    /// <summary>Acks older than the timeout are errors (of the phase their message was sent in).</summary>
    public void Sweep()
    {
        var oldest = Stopwatch.GetTimestamp() - (long)(AckTimeout.TotalSeconds * Stopwatch.Frequency);
        foreach (var (id, pending) in _pending)
        {
            if (pending.Timestamp < oldest && _pending.TryRemove(id, out _))
            {
                pending.Phase?.Error("ack_timeout");
            }
        }
    }

    public int Pending => _pending.Count;

    public void Close() => _ws?.Dispose();

    private static async Task Delay(TimeSpan delay, CancellationToken stop)
    {
        try
        {
            await Task.Delay(delay, stop);
        }
        catch (OperationCanceledException)
        {
        }
    }
}
