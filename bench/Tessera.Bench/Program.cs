using System.Diagnostics;
using System.Globalization;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

// Load generator for Tessera's bench app and the Node reference (bench/run.sh drives it). It speaks Engine.IO v4 /
// Socket.IO v5 by hand over WebSocket so it costs little CPU, and reads the server's CPU time and RSS from /proc.
//
//   dotnet run -c Release --project bench/Tessera.Bench -- --url http://127.0.0.1:3000 --secret <JWT_SECRET>
//       --scenario handshake|refused|echo|broadcast|idle|storm|browser [--seconds 10] [--connections N] [--pid <server pid>]
//       [--batch 100] (idle: connections opened at a time) [--concurrency 100] (storm: handshakes in flight)
//       [--receivers-url <node B> --pid2 <node B pid>] (broadcast across two nodes: CPU of both per delivery)
//   ... --scenario soak [--minutes 30] [--connections 19000] [--rate 50]   (Soak.cs; bench/soak.sh drives it)
//
// Prints one JSON line: throughput, p50/p99 latency, and server CPU µs per operation (when --pid is given).
var options = Options.Parse(args);
var result = options.Scenario switch
{
    "handshake" => await Scenarios.HandshakesAsync(options, valid: true),
    "refused" => await Scenarios.HandshakesAsync(options, valid: false),
    "echo" => await Scenarios.EchoAsync(options),
    "broadcast" => await Scenarios.BroadcastAsync(options),
    "idle" => await Scenarios.IdleAsync(options),
    "storm" => await Scenarios.StormAsync(options),
    "browser" => await Scenarios.BrowserHandshakesAsync(options),
    "soak" => await Soak.RunAsync(options),
    _ => throw new ArgumentException("unknown scenario " + options.Scenario),
};
Console.WriteLine(JsonSerializer.Serialize(result));
return result.Errors > 0 && result.Operations == 0 ? 1 : 0;

internal sealed record Options(string Url, string Secret, string Scenario, double Seconds, int Connections, int? Pid, int MaxOperations, double WarmupSeconds, int Batch = 100, int WarmupOperations = 0, string? ReceiversUrl = null, int? Pid2 = null)
{
    public static Options Parse(string[] args)
    {
        string Get(string name, string fallback)
        {
            var i = Array.IndexOf(args, "--" + name);
            return i >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
        }
        var scenario = Get("scenario", "echo");
        var defaultConnections = scenario switch { "broadcast" => 1000, "idle" or "storm" => 10_000, "soak" => 19_000, "echo" or "browser" => 50, _ => 32 };
        return new Options(
            Get("url", "http://127.0.0.1:3000").TrimEnd('/'),
            Get("secret", Environment.GetEnvironmentVariable("JWT_SECRET") ?? ""),
            scenario,
            double.Parse(Get("seconds", "10"), CultureInfo.InvariantCulture),
            int.Parse(Get("connections", defaultConnections.ToString(CultureInfo.InvariantCulture)), CultureInfo.InvariantCulture),
            args.Contains("--pid") ? int.Parse(Get("pid", "0"), CultureInfo.InvariantCulture) : null,
            // Every load loop is bounded in count as well as in time.
            int.Parse(Get("max-operations", "5000000"), CultureInfo.InvariantCulture),
            // Load before the measured window, not counted: both servers' JITs reach their steady state first.
            double.Parse(Get("warmup", "2"), CultureInfo.InvariantCulture),
            // Connections opened at a time (idle), handshakes in flight (storm): 100, as issue 18's measurements.
            int.Parse(Get("batch", Get("concurrency", "100")), CultureInfo.InvariantCulture),
            // Or a warm-up of this many operations (a fresh process: its first N handshakes), then the measured window.
            int.Parse(Get("warmup-operations", "0"), CultureInfo.InvariantCulture),
            // Cross-node fan-out: the receivers connect to this other node; its CPU counts too.
            args.Contains("--receivers-url") ? Get("receivers-url", "").TrimEnd('/') : null,
            args.Contains("--pid2") ? int.Parse(Get("pid2", "0"), CultureInfo.InvariantCulture) : null);
    }

    /// <summary>The load runs for the warm-up and the measured window together.</summary>
    public TimeSpan LoadDuration => TimeSpan.FromSeconds(WarmupSeconds + Seconds);

    public Uri SocketUri => new($"ws{Url[4..]}/socket.io/?EIO=4&transport=websocket");
}

internal sealed record Result(
    string Scenario,
    long Operations,
    long Errors,
    double Seconds,
    double Throughput,
    double P50Ms,
    double P99Ms,
    double? ServerCpuUsPerOp,
    long? ServerRssKb,
    double? RssKbPerConnection,
    int Connections);

/// <summary>A minimal client: one Socket.IO connection on "/", answering pings as it reads.</summary>
internal sealed class Connection : IDisposable
{
    private readonly ClientWebSocket _ws = new();
    private readonly byte[] _buffer = new byte[16 * 1024];

    public static async Task<(Connection Connection, string Reply)> OpenAsync(Options options, string token, CancellationToken cancellationToken)
    {
        var connection = new Connection();
        connection._ws.Options.KeepAliveInterval = TimeSpan.Zero;
        await connection._ws.ConnectAsync(options.SocketUri, cancellationToken);
        await connection.ReadAsync(cancellationToken); // Engine.IO open packet
        await connection.SendAsync("40{\"token\":\"" + token + "\"}", cancellationToken);
        return (connection, await connection.ReadAsync(cancellationToken));
    }

    public Task SendAsync(string text, CancellationToken cancellationToken) =>
        _ws.SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, true, cancellationToken);

    /// <summary>The next text message that is not a ping (pings are answered).</summary>
    public async Task<string> ReadAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            var count = 0;
            ValueWebSocketReceiveResult result;
            do
            {
                result = await _ws.ReceiveAsync(_buffer.AsMemory(count), cancellationToken);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    throw new WebSocketException("closed by the server");
                }
                count += result.Count;
            }
            while (!result.EndOfMessage && count < _buffer.Length);
            if (count == 1 && _buffer[0] == (byte)'2')
            {
                await SendAsync("3", cancellationToken);
                continue;
            }
            return Encoding.UTF8.GetString(_buffer, 0, count);
        }
    }

    public void Dispose()
    {
        _ws.Abort();
        _ws.Dispose();
    }
}

internal static partial class Scenarios
{
    internal static string Token(Options options, bool valid, string sub)
    {
        var secret = valid ? options.Secret : options.Secret + "-but-wrong";
        return new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Claims = new Dictionary<string, object> { ["sub"] = sub, ["name"] = "bench " + sub },
            Expires = DateTime.UtcNow.AddHours(2),
            SigningCredentials = new SigningCredentials(new SymmetricSecurityKey(Encoding.UTF8.GetBytes(secret)), SecurityAlgorithms.HmacSha256),
            TokenType = "JWT",
        });
    }

    internal sealed class Meter(Options options)
    {
        private readonly List<double> _latencies = new(100_000);
        private readonly Lock _lock = new();
        private long _operations;
        private long _errors;
        private (long Cpu, long Rss)? _start = Sample(options);
        private readonly Stopwatch _clock = Stopwatch.StartNew();

        /// <summary>Starts the measured window after the warm-up: counts, latencies and the CPU baseline restart.</summary>
        public async Task MeasureAfterWarmupAsync()
        {
            if (options.WarmupSeconds <= 0)
            {
                return;
            }
            await Task.Delay(TimeSpan.FromSeconds(options.WarmupSeconds));
            lock (_lock)
            {
                _latencies.Clear();
                Interlocked.Exchange(ref _operations, 0);
                Interlocked.Exchange(ref _errors, 0);
                _start = Sample(options);
                _clock.Restart();
            }
        }

        public bool Running(CancellationToken token) => !token.IsCancellationRequested && Interlocked.Read(ref _operations) < options.MaxOperations;

        private int _warmupOperationsLeft = options.WarmupOperations;

        public void Record(double milliseconds, long operations = 1)
        {
            lock (_lock)
            {
                if (_warmupOperationsLeft > 0)
                {
                    // Still warming up (--warmup-operations): not counted; the window starts after the last of them.
                    if (--_warmupOperationsLeft == 0)
                    {
                        _start = Sample(options);
                        _clock.Restart();
                    }
                    return;
                }
                Interlocked.Add(ref _operations, operations);
                if (_latencies.Count < 1_000_000)
                {
                    _latencies.Add(milliseconds);
                }
            }
        }

        public void Error() => Interlocked.Increment(ref _errors);

        public Result Finish(string scenario, int connections, double? rssKbPerConnection = null)
        {
            var seconds = _clock.Elapsed.TotalSeconds;
            var end = Sample(options);
            double[] sorted;
            lock (_lock)
            {
                sorted = [.. _latencies.Order()];
            }
            double Percentile(double p) => sorted.Length == 0 ? 0 : sorted[Math.Min(sorted.Length - 1, (int)(p * sorted.Length))];
            double? cpu = _start is { } s && end is { } e && _operations > 0 ? (e.Cpu - s.Cpu) * 1.0 / _operations : null;
            return new Result(scenario, _operations, _errors, Math.Round(seconds, 2), Math.Round(_operations / seconds, 1),
                Math.Round(Percentile(0.50), 3), Math.Round(Percentile(0.99), 3), cpu is null ? null : Math.Round(cpu.Value, 2),
                end?.Rss, rssKbPerConnection is null ? null : Math.Round(rssKbPerConnection.Value, 2), connections);
        }
    }

    /// <summary>Server CPU time (µs, user + system) and RSS (KB) from /proc.</summary>
    /// <summary>CPU of the server (both nodes' when <c>--pid2</c> is given: a cross-node run), RSS of the first.</summary>
    internal static (long Cpu, long Rss)? Sample(Options options) =>
        Sample(options.Pid) is { } first
            ? (first.Cpu + (Sample(options.Pid2) is { } second ? second.Cpu : 0), first.Rss)
            : null;

    internal static (long Cpu, long Rss)? Sample(int? pid)
    {
        if (pid is null)
        {
            return null;
        }
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
        var rss = File.ReadAllLines($"/proc/{pid}/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal))
            .Split(' ', StringSplitOptions.RemoveEmptyEntries)[1];
        // Linux reports CPU time in clock ticks of 10 ms (USER_HZ = 100).
        return (ticks * 10_000, long.Parse(rss, CultureInfo.InvariantCulture));
    }

    public static async Task<Result> HandshakesAsync(Options options, bool valid)
    {
        var meter = new Meter(options);
        using var stop = new CancellationTokenSource(options.LoadDuration);
        var warmup = meter.MeasureAfterWarmupAsync();
        var tokens = Enumerable.Range(0, 64).Select(i => Token(options, valid, "user" + i)).ToArray();
        var workers = Enumerable.Range(0, options.Connections).Select(w => Task.Run(async () =>
        {
            var i = w;
            while (meter.Running(stop.Token))
            {
                var started = Stopwatch.GetTimestamp();
                try
                {
                    var (connection, reply) = await Connection.OpenAsync(options, tokens[i++ % tokens.Length], stop.Token);
                    using (connection)
                    {
                        if (reply.StartsWith(valid ? "40{" : "44{", StringComparison.Ordinal))
                        {
                            meter.Record(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                        }
                        else
                        {
                            meter.Error();
                        }
                    }
                }
                catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or IOException)
                {
                    if (!stop.IsCancellationRequested)
                    {
                        meter.Error();
                    }
                }
            }
        })).ToArray();
        await Task.WhenAll(workers);
        await warmup;
        return meter.Finish(valid ? "handshake" : "refused", options.Connections);
    }

    public static async Task<Result> EchoAsync(Options options)
    {
        var connections = await OpenManyAsync(options, options.Connections);
        var payload = "{\"n\":1,\"text\":\"" + new string('x', 64) + "\"}";
        var meter = new Meter(options);
        using var stop = new CancellationTokenSource(options.LoadDuration);
        var warmup = meter.MeasureAfterWarmupAsync();
        var workers = connections.Select(connection => Task.Run(async () =>
        {
            var id = 0;
            while (meter.Running(stop.Token))
            {
                var started = Stopwatch.GetTimestamp();
                try
                {
                    await connection.SendAsync($"42{++id}[\"echo\",{payload}]", stop.Token);
                    var reply = await connection.ReadAsync(stop.Token);
                    if (reply.StartsWith("43" + id.ToString(CultureInfo.InvariantCulture) + "[", StringComparison.Ordinal))
                    {
                        meter.Record(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                    }
                    else
                    {
                        meter.Error();
                    }
                }
                catch (Exception ex) when (ex is OperationCanceledException || (ex is WebSocketException && stop.IsCancellationRequested))
                {
                    // A cancelled read aborts its WebSocket: the run is over.
                    return;
                }
            }
        })).ToArray();
        await Task.WhenAll(workers);
        await warmup;
        var result = meter.Finish("echo", connections.Length);
        Close(connections);
        return result;
    }

    /// <summary>One sender broadcasts (with an ack) to every connected socket; an operation is one delivery.</summary>
    public static async Task<Result> BroadcastAsync(Options options)
    {
        // With --receivers-url the receivers are on another node than the sender (the broadcast crosses Redis).
        var receivers = await OpenManyAsync(options.ReceiversUrl is { } other ? options with { Url = other } : options, options.Connections);
        var (sender, reply) = await Connection.OpenAsync(options, Token(options, true, "sender"), CancellationToken.None);
        if (!reply.StartsWith("40{", StringComparison.Ordinal))
        {
            throw new InvalidOperationException("the sender was refused: " + reply);
        }
        var meter = new Meter(options);
        using var stop = new CancellationTokenSource(options.LoadDuration);
        var warmup = meter.MeasureAfterWarmupAsync();
        var id = 0;
        while (meter.Running(stop.Token))
        {
            var started = Stopwatch.GetTimestamp();
            try
            {
                await sender.SendAsync($"42{++id}[\"broadcast\",{{\"seq\":{id}}}]", stop.Token);
                // Each receiver reads its copy; the sender reads its own copy and the ack (either order).
                var deliveries = receivers.Select(r => r.ReadAsync(stop.Token)).ToArray();
                await sender.ReadAsync(stop.Token);
                await sender.ReadAsync(stop.Token);
                await Task.WhenAll(deliveries);
                meter.Record(Stopwatch.GetElapsedTime(started).TotalMilliseconds, receivers.Length);
            }
            catch (Exception ex) when (ex is OperationCanceledException || (ex is WebSocketException && stop.IsCancellationRequested))
            {
                break;
            }
        }
        await warmup;
        var result = meter.Finish("broadcast", receivers.Length);
        Close([.. receivers, sender]);
        return result;
    }

    /// <summary>Holds N authenticated connections (answering heartbeats) and reports the server's RSS per connection.</summary>
    public static async Task<Result> IdleAsync(Options options)
    {
        var before = Sample(options.Pid);
        var meter = new Meter(options);
        var connections = await OpenManyAsync(options, options.Connections);
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(options.Seconds));
        var alive = connections.Select(c => Task.Run(async () =>
        {
            try
            {
                while (!stop.IsCancellationRequested)
                {
                    await c.ReadAsync(stop.Token); // pings are answered inside
                }
            }
            catch (OperationCanceledException)
            {
            }
            catch (WebSocketException) when (stop.IsCancellationRequested)
            {
            }
            catch (WebSocketException)
            {
                meter.Error();
            }
        })).ToArray();
        await Task.WhenAll(alive);
        var after = Sample(options.Pid);
        meter.Record(0, connections.Length);
        double? perConnection = before is { } b && after is { } a ? (a.Rss - b.Rss) * 1.0 / connections.Length : null;
        var result = meter.Finish("idle", connections.Length, perConnection);
        Close(connections);
        return result;
    }

    private static async Task<Connection[]> OpenManyAsync(Options options, int count)
    {
        var tokens = Enumerable.Range(0, 64).Select(i => Token(options, true, "user" + i)).ToArray();
        var connections = new Connection[count];
        var batch = options.Batch;
        for (var start = 0; start < count; start += batch)
        {
            await Task.WhenAll(Enumerable.Range(start, Math.Min(batch, count - start)).Select(async i =>
            {
                var (connection, reply) = await Connection.OpenAsync(options, tokens[i % tokens.Length], CancellationToken.None);
                if (!reply.StartsWith("40{", StringComparison.Ordinal))
                {
                    throw new InvalidOperationException("refused: " + reply);
                }
                connections[i] = connection;
            }));
        }
        return connections;
    }

    private static void Close(IEnumerable<Connection> connections)
    {
        foreach (var connection in connections)
        {
            connection.Dispose();
        }
    }
}
