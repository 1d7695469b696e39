using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net.WebSockets;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

/// <summary>
/// The soak scenario (bench/soak.sh drives it; docs/reliability.md, "Soak"): N authenticated WebSocket connections
/// opened 100 at a time and held for a fixed time, every server ping answered, a light echo load (a fixed total rate of
/// `echo` events with an ack, each on a random connection), and every 10 s a CSV row with the server's RSS, the
/// connections open, the drops and the acks. Bounded in count and time; loopback only; it never reconnects, so a
/// drop stays visible until the end.
/// <code>
///   --scenario soak [--connections 19000] [--minutes 30 | --seconds S] [--rate 50] [--batch 100] [--pid P]
///   [--sample-seconds 10] [--ack-timeout 10] [--csv soak.csv] [--events soak-events.jsonl] [--summary soak.json]
///   [--server-log server.log] [--settle 0]
/// </code>
/// A drop is a connection the server ended before the generator did (a WebSocket close frame, a reset, an Engine.IO
/// close or a Socket.IO disconnect packet), recorded with what the client saw and, when --server-log points at the
/// bench app's output with the "Tessera.EngineIO" category at Debug, with the server's own Engine.IO close reason
/// ("ping timeout", "transport close", ...). A missed heartbeat is either side's: a "ping timeout" close in the server's
/// log, or a connection that saw no ping for pingInterval + pingTimeout (where a real client gives up). An ack not
/// received within --ack-timeout seconds is lost, whether it arrives later ("late") or never.
/// </summary>
internal static partial class Soak
{
    private sealed record Settings(
        double Seconds, double Rate, int Batch, double SampleSeconds, double AckTimeoutSeconds,
        string? Csv, string? Events, string? Summary, string? ServerLog, double SettleSeconds)
    {
        public static Settings Parse(string[] args, Options options)
        {
            string? Get(string name)
            {
                var i = Array.IndexOf(args, "--" + name);
                return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
            }
            double Number(string name, double fallback) =>
                Get(name) is { } value ? double.Parse(value, CultureInfo.InvariantCulture) : fallback;
            // --seconds (the other scenarios' option, used by the smoke test) wins over --minutes when given.
            var seconds = Get("seconds") is not null ? options.Seconds : Number("minutes", 30) * 60;
            var settings = new Settings(seconds, Number("rate", 50), (int)Number("batch", 100), Number("sample-seconds", 10),
                Number("ack-timeout", 10), Get("csv"), Get("events"), Get("summary"), Get("server-log"), Number("settle", 0));
            if (settings.Seconds <= 0 || settings.Rate < 0 || settings.Batch <= 0 || settings.SampleSeconds <= 0 || settings.AckTimeoutSeconds <= 0)
            {
                throw new ArgumentException("soak: --minutes/--seconds, --batch, --sample-seconds and --ack-timeout must be positive, --rate 0 or more");
            }
            return settings;
        }
    }

    /// <summary>One Socket.IO connection on "/": one send at a time (pongs and echoes share it), one reader.</summary>
    private sealed class SoakConnection(int index) : IDisposable
    {
        private const int MaxMessage = 1 << 20;
        private readonly SemaphoreSlim _sending = new(1, 1);
        // Every message of this scenario is under 200 bytes; a larger one grows the buffer (up to 1 MB).
        private byte[] _buffer = new byte[512];

        public int Index { get; } = index;
        public ClientWebSocket Socket { get; } = new();
        public Task? Reader { get; set; }
        /// <summary>Stopwatch timestamp of the last ping (of the open, before the first).</summary>
        public long LastPing;
        public volatile bool Open;
        public volatile bool Overdue;

        public async Task SendAsync(string text)
        {
            var bytes = Encoding.UTF8.GetBytes(text);
            await _sending.WaitAsync();
            try
            {
                await Socket.SendAsync(bytes, WebSocketMessageType.Text, true, CancellationToken.None);
            }
            finally
            {
                _sending.Release();
            }
        }

        /// <summary>The next text message, or null when the server sent a close frame.</summary>
        public async Task<string?> ReceiveAsync(CancellationToken cancellationToken)
        {
            var count = 0;
            while (true)
            {
                if (count == _buffer.Length)
                {
                    if (_buffer.Length >= MaxMessage)
                    {
                        throw new InvalidDataException($"a message over {MaxMessage} bytes");
                    }
                    Array.Resize(ref _buffer, _buffer.Length * 2);
                }
                var result = await Socket.ReceiveAsync(_buffer.AsMemory(count), cancellationToken);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    return null;
                }
                count += result.Count;
                if (result.EndOfMessage)
                {
                    return Encoding.UTF8.GetString(_buffer, 0, count);
                }
            }
        }

        public void Dispose()
        {
            Socket.Abort();
            Socket.Dispose();
            _sending.Dispose();
        }
    }

    private sealed partial class Run(Options options, Settings settings)
    {
        private readonly Stopwatch _clock = Stopwatch.StartNew();
        private readonly Lock _lock = new();
        private readonly ConcurrentDictionary<long, long> _pending = new();
        private readonly List<double> _ackLatencies = new(100_000);
        private readonly List<double> _intervalLatencies = [];
        private readonly Dictionary<string, int> _dropReasons = [];
        private readonly Dictionary<string, int> _openFailureReasons = [];
        private readonly List<object> _firstDrops = [];
        private readonly List<Dictionary<string, object?>> _samples = [];
        private StreamWriter? _csv;
        private StreamWriter? _events;
        private SoakConnection?[] _connections = [];
        private volatile string _phase = "ramp";
        private volatile bool _tearingDown;
        // Set by SIGTERM/SIGINT (a `timeout`, or someone stopping the run): the soak window ends early and the summary
        // still gets written, marked as interrupted.
        private volatile string? _interrupted;
        private long _nextAckId;
        private long _open, _dropped, _openFailures, _openRetries;
        private long _pings, _clientMissedHeartbeats, _maxPingGapTicks, _maxPongDelayTicks;
        private long _acksSent, _acksOnTime, _acksLate, _sendFailures, _unknownAcks, _mismatchedAcks, _unexpected, _skipped;
        private int _pingIntervalMs = 25_000, _pingTimeoutMs = 20_000;
        private long _maxClientRssKb, _generatorStalls, _maxGeneratorStallMs;

        private double Now => _clock.Elapsed.TotalSeconds;

        private static double Ms(long ticks) => ticks * 1000.0 / Stopwatch.Frequency;

        private static void Max(ref long location, long value)
        {
            var current = Volatile.Read(ref location);
            while (value > current)
            {
                var seen = Interlocked.CompareExchange(ref location, value, current);
                if (seen == current)
                {
                    return;
                }
                current = seen;
            }
        }

        private void Event(object record)
        {
            if (_events is null)
            {
                return;
            }
            var line = JsonSerializer.Serialize(record);
            lock (_lock)
            {
                _events.WriteLine(line);
            }
        }

        private static string Token(SigningCredentials credentials, JsonWebTokenHandler handler, int i) =>
            handler.CreateToken(new SecurityTokenDescriptor
            {
                Claims = new Dictionary<string, object> { ["sub"] = "soak" + i.ToString(CultureInfo.InvariantCulture), ["name"] = "soak " + i.ToString(CultureInfo.InvariantCulture) },
                Expires = DateTime.UtcNow.AddHours(24),
                SigningCredentials = credentials,
                TokenType = "JWT",
            });

        public async Task<Result> ExecuteAsync()
        {
            using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Interrupt);
            using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, Interrupt);
            _csv = settings.Csv is null ? null : new StreamWriter(settings.Csv) { AutoFlush = true };
            _events = settings.Events is null ? null : new StreamWriter(settings.Events) { AutoFlush = true };
            _csv?.WriteLine("t_s,phase,server_rss_kb,server_cpu_s,server_sockets,server_heap_kb,server_gen2,open,dropped,pings,client_missed_heartbeats,acks_sent,acks_on_time,acks_lost,ack_p99_ms,client_rss_kb");
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
            var before = await SampleAsync(http, "before");
            using var sampling = new CancellationTokenSource();
            var sampler = SamplerAsync(http, sampling.Token);
            var monitor = HeartbeatMonitorAsync(sampling.Token);

            // Ramp: N connections, `batch` at a time.
            var credentials = new SigningCredentials(new SymmetricSecurityKey(Encoding.UTF8.GetBytes(options.Secret)), SecurityAlgorithms.HmacSha256);
            var handler = new JsonWebTokenHandler();
            _connections = new SoakConnection?[options.Connections];
            var rampStarted = Now;
            for (var start = 0; start < options.Connections && _interrupted is null; start += settings.Batch)
            {
                var tokens = Enumerable.Range(start, Math.Min(settings.Batch, options.Connections - start)).Select(i => (i, Token(credentials, handler, i))).ToArray();
                await Task.WhenAll(tokens.Select(t => OpenAsync(t.i, t.Item2)));
            }
            var rampSeconds = Now - rampStarted;
            Console.Error.WriteLine($"soak: {Interlocked.Read(ref _open)} of {options.Connections} open in {rampSeconds:0.0} s; pingInterval {_pingIntervalMs} ms, pingTimeout {_pingTimeoutMs} ms");

            // The soak window: echo load at a fixed total rate on random open connections.
            _phase = "soak";
            var soakStart = await SampleAsync(http, "soak");
            var soakStarted = Now;
            var window = Stopwatch.StartNew();
            long scheduled = 0;
            while (window.Elapsed.TotalSeconds < settings.Seconds && scheduled < options.MaxOperations && Interlocked.Read(ref _open) > 0 && _interrupted is null)
            {
                var due = Math.Min(options.MaxOperations, (long)(window.Elapsed.TotalSeconds * settings.Rate));
                for (; scheduled < due; scheduled++)
                {
                    SendEcho();
                }
                await Task.Delay(20);
            }
            var soakSeconds = Now - soakStarted;

            // Drain: the acks still on their way get their full timeout.
            _phase = "drain";
            var drainUntil = Now + settings.AckTimeoutSeconds + 1;
            while (!_pending.IsEmpty && Now < drainUntil)
            {
                await Task.Delay(50);
            }
            var soakEnd = await SampleAsync(http, "end");
            var serverDuringSoak = ServerLog();

            // Teardown (not a drop), then the server's memory once the sessions are gone.
            _tearingDown = true;
            _phase = "teardown";
            await sampling.CancelAsync();
            await sampler;
            await monitor;
            var neverAcked = _pending.Count;
            foreach (var connection in _connections)
            {
                connection?.Dispose();
            }
            await Task.WhenAll(_connections.Where(c => c?.Reader is not null).Select(c => c!.Reader!));
            var teardownUntil = Now + 30;
            Dictionary<string, object?>? afterTeardown;
            while (true)
            {
                afterTeardown = await SampleAsync(http, "after");
                if (afterTeardown["server_sockets"] is 0 || Now > teardownUntil)
                {
                    break;
                }
                await Task.Delay(500);
            }
            var settled = afterTeardown;
            for (var until = Now + settings.SettleSeconds; Now < until;)
            {
                await Task.Delay(TimeSpan.FromSeconds(Math.Min(settings.SampleSeconds, Math.Max(0.1, until - Now))));
                settled = await SampleAsync(http, "after");
            }
            var serverTotal = ServerLog();

            return Finish(before, soakStart, soakEnd, afterTeardown, settled, serverDuringSoak, serverTotal, rampSeconds, soakSeconds, neverAcked);
        }

        private void Interrupt(PosixSignalContext context)
        {
            context.Cancel = true;
            if (_interrupted is null)
            {
                _interrupted = $"{context.Signal} at t={Now:0.0} s ({_phase})";
                Console.Error.WriteLine("soak: interrupted by " + _interrupted + "; finishing early");
                Event(new { t = Math.Round(Now, 3), kind = "interrupted", signal = context.Signal.ToString() });
            }
        }

        private async Task OpenAsync(int i, string token)
        {
            for (var attempt = 1; attempt <= 3; attempt++)
            {
                var connection = new SoakConnection(i);
                connection.Socket.Options.KeepAliveInterval = TimeSpan.Zero;
                try
                {
                    using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
                    await connection.Socket.ConnectAsync(options.SocketUri, timeout.Token);
                    var open = await connection.ReceiveAsync(timeout.Token);
                    if (open is null || !open.StartsWith('0'))
                    {
                        throw new InvalidDataException("no Engine.IO open packet: " + open);
                    }
                    using (var handshake = JsonDocument.Parse(open.AsMemory(1)))
                    {
                        _pingIntervalMs = handshake.RootElement.GetProperty("pingInterval").GetInt32();
                        _pingTimeoutMs = handshake.RootElement.GetProperty("pingTimeout").GetInt32();
                    }
                    Volatile.Write(ref connection.LastPing, Stopwatch.GetTimestamp());
                    await connection.SendAsync("40{\"token\":\"" + token + "\"}");
                    var reply = await connection.ReceiveAsync(timeout.Token);
                    if (reply is null || !reply.StartsWith("40{", StringComparison.Ordinal))
                    {
                        throw new InvalidDataException("CONNECT refused: " + reply);
                    }
                    connection.Open = true;
                    Interlocked.Increment(ref _open);
                    _connections[i] = connection;
                    connection.Reader = Task.Run(() => ReadAsync(connection));
                    return;
                }
                catch (Exception ex) when (ex is WebSocketException or IOException or OperationCanceledException or InvalidDataException or JsonException or KeyNotFoundException)
                {
                    connection.Dispose();
                    var reason = ex.GetType().Name + ": " + ex.Message;
                    Event(new { t = Math.Round(Now, 3), kind = "open-failure", connection = i, attempt, reason });
                    lock (_lock)
                    {
                        Count(_openFailureReasons, reason);
                    }
                    if (attempt == 3)
                    {
                        Interlocked.Increment(ref _openFailures);
                        return;
                    }
                    Interlocked.Increment(ref _openRetries);
                    await Task.Delay(1000);
                }
            }
        }

        private static void Count(Dictionary<string, int> counts, string key) =>
            counts[key] = counts.GetValueOrDefault(key) + 1;

        private async Task ReadAsync(SoakConnection connection)
        {
            string? drop = null;
            try
            {
                while (drop is null)
                {
                    var text = await connection.ReceiveAsync(CancellationToken.None);
                    if (text is null)
                    {
                        drop = $"WebSocket close frame {(int?)connection.Socket.CloseStatus} '{connection.Socket.CloseStatusDescription}'";
                    }
                    else if (text == "2")
                    {
                        var now = Stopwatch.GetTimestamp();
                        Max(ref _maxPingGapTicks, now - Volatile.Read(ref connection.LastPing));
                        Volatile.Write(ref connection.LastPing, now);
                        connection.Overdue = false;
                        await connection.SendAsync("3");
                        Max(ref _maxPongDelayTicks, Stopwatch.GetTimestamp() - now);
                        Interlocked.Increment(ref _pings);
                    }
                    else if (text.StartsWith("43", StringComparison.Ordinal))
                    {
                        OnAck(text);
                    }
                    else if (text == "1")
                    {
                        drop = "Engine.IO close packet";
                    }
                    else if (text.StartsWith("41", StringComparison.Ordinal))
                    {
                        drop = "Socket.IO disconnect packet " + text;
                    }
                    else if (Interlocked.Increment(ref _unexpected) <= 20)
                    {
                        Event(new { t = Math.Round(Now, 3), kind = "unexpected", connection = connection.Index, text = text[..Math.Min(text.Length, 200)] });
                    }
                }
            }
            catch (Exception ex) when (!_tearingDown)
            {
                drop = ex is WebSocketException ws ? $"WebSocket {ws.WebSocketErrorCode}: {ws.Message}" : ex.GetType().Name + ": " + ex.Message;
            }
            catch (Exception) when (_tearingDown)
            {
                return;
            }
            if (_tearingDown)
            {
                return;
            }
            connection.Open = false;
            Interlocked.Decrement(ref _open);
            Interlocked.Increment(ref _dropped);
            var sincePing = Ms(Stopwatch.GetTimestamp() - Volatile.Read(ref connection.LastPing));
            var record = new { t = Math.Round(Now, 3), kind = "drop", phase = _phase, connection = connection.Index, reason = drop, msSinceLastPing = Math.Round(sincePing) };
            Event(record);
            lock (_lock)
            {
                Count(_dropReasons, drop);
                if (_firstDrops.Count < 20)
                {
                    _firstDrops.Add(record);
                }
            }
            connection.Socket.Abort();
        }

        private void OnAck(string text)
        {
            var now = Stopwatch.GetTimestamp();
            var end = text.IndexOf('[', StringComparison.Ordinal);
            if (end < 3 || !long.TryParse(text.AsSpan(2, end - 2), NumberStyles.None, CultureInfo.InvariantCulture, out var id) || !_pending.TryRemove(id, out var sent))
            {
                Interlocked.Increment(ref _unknownAcks);
                return;
            }
            if (!text.Contains("\"seq\":" + id.ToString(CultureInfo.InvariantCulture) + ",", StringComparison.Ordinal))
            {
                Interlocked.Increment(ref _mismatchedAcks);
            }
            var ms = Ms(now - sent);
            if (ms > settings.AckTimeoutSeconds * 1000)
            {
                Interlocked.Increment(ref _acksLate);
                Event(new { t = Math.Round(Now, 3), kind = "late-ack", id, ms = Math.Round(ms, 1) });
            }
            else
            {
                Interlocked.Increment(ref _acksOnTime);
            }
            lock (_lock)
            {
                if (_ackLatencies.Count < 5_000_000)
                {
                    _ackLatencies.Add(ms);
                }
                _intervalLatencies.Add(ms);
            }
        }

        private const string Pad = "soak-echo-payload-0123456789abcdef0123456789abcdef0123456789abcdef";

        private void SendEcho()
        {
            SoakConnection? connection = null;
            for (var tries = 0; tries < 20 && connection is null; tries++)
            {
                var candidate = _connections[Random.Shared.Next(_connections.Length)];
                connection = candidate is { Open: true } ? candidate : null;
            }
            if (connection is null || _pending.Count >= 10_000)
            {
                Interlocked.Increment(ref _skipped);
                return;
            }
            var id = Interlocked.Increment(ref _nextAckId);
            _pending[id] = Stopwatch.GetTimestamp();
            Interlocked.Increment(ref _acksSent);
            _ = SendEchoAsync(connection, id);
        }

        private async Task SendEchoAsync(SoakConnection connection, long id)
        {
            try
            {
                await connection.SendAsync($"42{id}[\"echo\",{{\"seq\":{id},\"pad\":\"{Pad}\"}}]");
            }
            catch (Exception ex) when (ex is WebSocketException or IOException or ObjectDisposedException or InvalidOperationException)
            {
                // The connection went away under the send: its drop is recorded by its reader.
                if (_pending.TryRemove(id, out _))
                {
                    Interlocked.Decrement(ref _acksSent);
                    Interlocked.Increment(ref _sendFailures);
                }
            }
        }

        /// <summary>Every second: a connection that has seen no ping for pingInterval + pingTimeout missed a heartbeat.</summary>
        private async Task HeartbeatMonitorAsync(CancellationToken cancellationToken)
        {
            using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1));
            var tick = Stopwatch.GetTimestamp();
            try
            {
                while (await timer.WaitForNextTickAsync(cancellationToken))
                {
                    // A tick more than 3 s late: this process did not run (its core was taken), so what the
                    // connections saw meanwhile is the generator's fault, not the server's.
                    var late = Ms(Stopwatch.GetTimestamp() - tick) - 1000;
                    tick = Stopwatch.GetTimestamp();
                    if (late > 2000)
                    {
                        Interlocked.Increment(ref _generatorStalls);
                        Max(ref _maxGeneratorStallMs, (long)late);
                        Event(new { t = Math.Round(Now, 3), kind = "generator-stall", ms = Math.Round(late) });
                    }
                    var limit = (long)((_pingIntervalMs + _pingTimeoutMs) / 1000.0 * Stopwatch.Frequency);
                    var now = Stopwatch.GetTimestamp();
                    foreach (var connection in _connections)
                    {
                        if (connection is { Open: true, Overdue: false } && now - Volatile.Read(ref connection.LastPing) > limit)
                        {
                            connection.Overdue = true;
                            Interlocked.Increment(ref _clientMissedHeartbeats);
                            Event(new { t = Math.Round(Now, 3), kind = "missed-heartbeat", connection = connection.Index, msSinceLastPing = Math.Round(Ms(now - Volatile.Read(ref connection.LastPing))) });
                        }
                    }
                }
            }
            catch (OperationCanceledException)
            {
            }
        }

        private async Task SamplerAsync(HttpClient http, CancellationToken cancellationToken)
        {
            using var timer = new PeriodicTimer(TimeSpan.FromSeconds(settings.SampleSeconds));
            try
            {
                while (await timer.WaitForNextTickAsync(cancellationToken))
                {
                    await SampleAsync(http, _phase);
                }
            }
            catch (OperationCanceledException)
            {
            }
        }

        private long Overdue()
        {
            var limit = Stopwatch.GetTimestamp() - (long)(settings.AckTimeoutSeconds * Stopwatch.Frequency);
            return _pending.Values.Count(sent => sent < limit);
        }

        private async Task<Dictionary<string, object?>> SampleAsync(HttpClient http, string phase)
        {
            var process = Proc(options.Pid);
            int? sockets = null;
            long? heap = null;
            int? gen2 = null;
            try
            {
                using var stats = JsonDocument.Parse(await http.GetStringAsync(options.Url + "/stats"));
                sockets = stats.RootElement.GetProperty("connectedSockets").GetInt32();
                heap = stats.RootElement.GetProperty("heapBytes").GetInt64() / 1024;
                gen2 = stats.RootElement.GetProperty("gen2").GetInt32();
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or JsonException or KeyNotFoundException)
            {
            }
            double? p99;
            lock (_lock)
            {
                _intervalLatencies.Sort();
                p99 = _intervalLatencies.Count == 0 ? null : Math.Round(_intervalLatencies[Math.Min(_intervalLatencies.Count - 1, (int)(0.99 * _intervalLatencies.Count))], 3);
                _intervalLatencies.Clear();
            }
            var clientRss = Environment.WorkingSet / 1024;
            Max(ref _maxClientRssKb, clientRss);
            var row = new Dictionary<string, object?>
            {
                ["t_s"] = Math.Round(Now, 1),
                ["phase"] = phase,
                ["server_rss_kb"] = process?.Rss,
                ["server_cpu_s"] = process is { } p ? Math.Round(p.CpuUs / 1e6, 2) : null,
                ["server_sockets"] = sockets,
                ["server_heap_kb"] = heap,
                ["server_gen2"] = gen2,
                ["open"] = Interlocked.Read(ref _open),
                ["dropped"] = Interlocked.Read(ref _dropped),
                ["pings"] = Interlocked.Read(ref _pings),
                ["client_missed_heartbeats"] = Interlocked.Read(ref _clientMissedHeartbeats),
                ["acks_sent"] = Interlocked.Read(ref _acksSent),
                ["acks_on_time"] = Interlocked.Read(ref _acksOnTime),
                ["acks_lost"] = Interlocked.Read(ref _acksLate) + Overdue(),
                ["ack_p99_ms"] = p99,
                ["client_rss_kb"] = clientRss,
            };
            lock (_lock)
            {
                _samples.Add(row);
                _csv?.WriteLine(string.Join(',', row.Values.Select(v => v switch
                {
                    null => "",
                    double d => d.ToString(CultureInfo.InvariantCulture),
                    IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
                    _ => v.ToString(),
                })));
            }
            Console.Error.WriteLine($"soak t={row["t_s"]}s {phase}: open {row["open"]}, dropped {row["dropped"]}, server sockets {sockets}, server RSS {process?.Rss / 1024} MB, acks {row["acks_on_time"]}/{row["acks_sent"]} lost {row["acks_lost"]}, missed heartbeats {row["client_missed_heartbeats"]}");
            return row;
        }

        [GeneratedRegex(@"Engine\.IO session \S+ closed: (.+)\.$")]
        private static partial Regex ClosedLine();

        /// <summary>The server's Engine.IO close reasons, sessions opened and problems logged so far (--server-log).</summary>
        private ServerLogSummary? ServerLog()
        {
            if (settings.ServerLog is null || !File.Exists(settings.ServerLog))
            {
                return null;
            }
            var closes = new Dictionary<string, int>();
            var opened = 0;
            var problems = new List<string>();
            string? level = null;
            using var reader = new StreamReader(new FileStream(settings.ServerLog, FileMode.Open, FileAccess.Read, FileShare.ReadWrite));
            while (reader.ReadLine() is { } line)
            {
                if (line.StartsWith("warn:", StringComparison.Ordinal) || line.StartsWith("fail:", StringComparison.Ordinal) || line.StartsWith("crit:", StringComparison.Ordinal))
                {
                    level = line;
                    if (problems.Count < 20)
                    {
                        problems.Add(line);
                    }
                    continue;
                }
                if (ClosedLine().Match(line) is { Success: true } match)
                {
                    Count(closes, match.Groups[1].Value);
                }
                else if (line.Contains("Engine.IO session ", StringComparison.Ordinal) && line.Contains(" opened over ", StringComparison.Ordinal))
                {
                    opened++;
                }
                else if (level is not null && problems.Count < 40)
                {
                    problems.Add(line.Trim());
                }
                level = null;
            }
            return new ServerLogSummary(opened, closes, problems);
        }

        private Result Finish(
            Dictionary<string, object?> before, Dictionary<string, object?> soakStart, Dictionary<string, object?> soakEnd,
            Dictionary<string, object?> afterTeardown, Dictionary<string, object?> settled, ServerLogSummary? serverDuringSoak, ServerLogSummary? serverTotal,
            double rampSeconds, double soakSeconds, int neverAcked)
        {
            long? Rss(Dictionary<string, object?> row) => row["server_rss_kb"] as long?;
            var soakRows = _samples.Where(r => (string)r["phase"]! == "soak" && r["server_rss_kb"] is long).ToList();
            // RSS trend: least-squares slope in KB per minute over the soak window, and over its second half.
            double? Slope(IReadOnlyList<Dictionary<string, object?>> rows)
            {
                if (rows.Count < 3)
                {
                    return null;
                }
                var xs = rows.Select(r => (double)r["t_s"]! / 60).ToArray();
                var ys = rows.Select(r => (double)(long)r["server_rss_kb"]!).ToArray();
                double mx = xs.Average(), my = ys.Average();
                var den = xs.Sum(x => (x - mx) * (x - mx));
                return den == 0 ? null : Math.Round(xs.Zip(ys).Sum(p => (p.First - mx) * (p.Second - my)) / den, 1);
            }
            double[] latencies;
            lock (_lock)
            {
                latencies = [.. _ackLatencies.Order()];
            }
            double? Percentile(double p) => latencies.Length == 0 ? null : Math.Round(latencies[Math.Min(latencies.Length - 1, (int)(p * latencies.Length))], 3);
            var lost = _acksLate + neverAcked;
            var serverPingTimeouts = serverDuringSoak?.CloseReasons.GetValueOrDefault("ping timeout") ?? 0;
            var cpuStart = soakStart["server_cpu_s"] as double?;
            var cpuEnd = soakEnd["server_cpu_s"] as double?;
            var summary = new Dictionary<string, object?>
            {
                ["scenario"] = "soak",
                ["interrupted"] = _interrupted,
                ["url"] = options.Url,
                ["connectionsTarget"] = options.Connections,
                ["connectionsOpened"] = _connections.Count(c => c is not null),
                ["openFailures"] = _openFailures,
                ["openRetries"] = _openRetries,
                ["openFailureReasons"] = _openFailureReasons,
                ["batch"] = settings.Batch,
                ["rampSeconds"] = Math.Round(rampSeconds, 1),
                ["soakSeconds"] = Math.Round(soakSeconds, 1),
                ["echoPerSecond"] = settings.Rate,
                ["pingIntervalMs"] = _pingIntervalMs,
                ["pingTimeoutMs"] = _pingTimeoutMs,
                ["openAtEnd"] = soakEnd["open"],
                ["serverSocketsAtStart"] = soakStart["server_sockets"],
                ["serverSocketsAtEnd"] = soakEnd["server_sockets"],
                ["serverSocketsAfterTeardown"] = afterTeardown["server_sockets"],
                ["rssKb"] = new Dictionary<string, object?>
                {
                    ["beforeConnections"] = Rss(before),
                    ["soakStart"] = Rss(soakStart),
                    ["soakMin"] = soakRows.Count == 0 ? null : soakRows.Min(r => (long)r["server_rss_kb"]!),
                    ["soakMax"] = soakRows.Count == 0 ? null : soakRows.Max(r => (long)r["server_rss_kb"]!),
                    ["soakMedianSecondHalf"] = soakRows.Count == 0 ? null : soakRows.Skip(soakRows.Count / 2).Select(r => (long)r["server_rss_kb"]!).Order().ElementAt((soakRows.Count - soakRows.Count / 2) / 2),
                    ["soakEnd"] = Rss(soakEnd),
                    ["afterTeardown"] = Rss(afterTeardown),
                    ["afterSettle"] = Rss(settled),
                    ["slopeKbPerMinute"] = Slope(soakRows),
                    ["slopeKbPerMinuteSecondHalf"] = Slope(soakRows.Skip(soakRows.Count / 2).ToList()),
                },
                ["serverHeapKb"] = new { soakStart = soakStart["server_heap_kb"], soakEnd = soakEnd["server_heap_kb"], afterSettle = settled["server_heap_kb"] },
                ["serverGen2"] = new { soakStart = soakStart["server_gen2"], soakEnd = soakEnd["server_gen2"] },
                ["serverCpuSecondsSoak"] = cpuStart is { } a && cpuEnd is { } b ? Math.Round(b - a, 2) : null,
                ["heartbeats"] = new
                {
                    pingsAnswered = _pings,
                    maxPingGapMs = Math.Round(Ms(_maxPingGapTicks)),
                    maxPongSendMs = Math.Round(Ms(_maxPongDelayTicks), 1),
                    clientMissed = _clientMissedHeartbeats,
                    serverPingTimeouts,
                },
                ["acks"] = new
                {
                    sent = _acksSent,
                    onTime = _acksOnTime,
                    late = _acksLate,
                    neverReceived = neverAcked,
                    lost,
                    sendFailures = _sendFailures,
                    unknown = _unknownAcks,
                    mismatched = _mismatchedAcks,
                    skipped = _skipped,
                    p50Ms = Percentile(0.5),
                    p99Ms = Percentile(0.99),
                    p999Ms = Percentile(0.999),
                    maxMs = latencies.Length == 0 ? (double?)null : Math.Round(latencies[^1], 3),
                },
                ["drops"] = new { total = _dropped, byReason = _dropReasons, first = _firstDrops },
                ["unexpectedMessages"] = _unexpected,
                ["serverLogDuringSoak"] = serverDuringSoak,
                ["serverLogTotal"] = serverTotal,
                ["clientMaxRssKb"] = _maxClientRssKb,
                ["generatorStalls"] = new { count = _generatorStalls, maxMs = _maxGeneratorStallMs },
            };
            var json = JsonSerializer.Serialize(summary, new JsonSerializerOptions { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.CamelCase });
            if (settings.Summary is not null)
            {
                File.WriteAllText(settings.Summary, json + "\n");
            }
            Console.Error.WriteLine(json);
            _csv?.Dispose();
            _events?.Dispose();

            var errors = (_interrupted is null ? 0 : 1) + _openFailures + _dropped + lost + _clientMissedHeartbeats + serverPingTimeouts + _sendFailures + _unknownAcks + _mismatchedAcks;
            var cpu = cpuStart is { } c0 && cpuEnd is { } c1 && _acksOnTime > 0 ? Math.Round((c1 - c0) * 1e6 / _acksOnTime, 2) : (double?)null;
            var opened = _connections.Count(c => c is not null);
            double? perConnection = Rss(soakStart) is { } s && Rss(before) is { } r && opened > 0 ? Math.Round((s - r) * 1.0 / opened, 2) : null;
            return new Result("soak", _acksOnTime, errors, Math.Round(soakSeconds, 2), Math.Round(_acksOnTime / Math.Max(soakSeconds, 0.001), 1),
                Percentile(0.5) ?? 0, Percentile(0.99) ?? 0, cpu, Rss(soakEnd), perConnection, opened);
        }
    }

    private sealed record ServerLogSummary(int SessionsOpened, Dictionary<string, int> CloseReasons, List<string> Problems);

    /// <summary>The server's RSS (KB, VmRSS) and CPU time (µs, user + system) from /proc, or null.</summary>
    private static (long Rss, long CpuUs)? Proc(int? pid)
    {
        if (pid is null)
        {
            return null;
        }
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
            var rss = File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal))
                .Split(' ', StringSplitOptions.RemoveEmptyEntries)[1];
            return (long.Parse(rss, CultureInfo.InvariantCulture), ticks * 10_000);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or InvalidOperationException)
        {
            return null; // the server is gone
        }
    }

    public static Task<Result> RunAsync(Options options) =>
        new Run(options, Settings.Parse(Environment.GetCommandLineArgs(), options)).ExecuteAsync();
}
