using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Threading.Channels;

namespace Tessera.Hostile;

internal sealed record AttackFigures(string Kind, double Seconds, string Volume, SortedDictionary<string, long> Counters);

/// <summary>Named counters, safe to bump from any thread.</summary>
internal sealed class Counters
{
    private readonly ConcurrentDictionary<string, long> _values = new(StringComparer.Ordinal);

    public void Add(string name, long value = 1) => _values.AddOrUpdate(name, value, (_, current) => current + value);

    public long this[string name] => _values.GetValueOrDefault(name);

    public SortedDictionary<string, long> Snapshot() => new(_values, StringComparer.Ordinal);
}

/// <summary>
/// The five attacks. Each comes from <see cref="Options.Attacker"/> (loopback), runs for <c>--seconds</c> and is
/// bounded in count as well (<c>--max-operations</c>, reconnects); none of them reads more than it must.
/// </summary>
internal static class Attacks
{
    public static readonly string[] Kinds = ["handshake", "connect", "slowloris", "ping", "event"];

    public static async Task<AttackFigures> RunAsync(string kind, Options options, string[] tokens)
    {
        var seconds = options.Double("seconds", 20);
        var counters = new Counters();
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(seconds));
        var clock = Stopwatch.StartNew();
        var volume = kind switch
        {
            "handshake" => await HandshakeFloodAsync(options, counters, stop.Token),
            "connect" => await ConnectFloodAsync(options, counters, stop.Token),
            "slowloris" => await SlowlorisAsync(options, counters, stop.Token),
            "ping" => await PingFloodAsync(options, counters, stop.Token),
            "event" => await EventFloodAsync(options, tokens, counters, stop.Token),
            _ => throw new ArgumentException("unknown attack " + kind),
        };
        return new AttackFigures(kind, Math.Round(clock.Elapsed.TotalSeconds, 2), volume, counters.Snapshot());
    }

    private static string PerSecond(long count, double seconds) =>
        (count / seconds).ToString("N0", CultureInfo.InvariantCulture) + "/s";

    /// <summary>A socket from the attacker's address, its port picked at connect time (IP_BIND_ADDRESS_NO_PORT), so
    /// the four-tuple, not the port alone, must be unique and TIME_WAIT ports are reused on loopback.</summary>
    /// <remarks>With <paramref name="spread"/>, the source is one of 127.0.0.2 … 127.0.0.9 (from --attacker on): a
    /// flood of short connections then has eight times the ephemeral ports before TIME_WAIT runs them out, and the
    /// kernel never has to search a nearly full port range.</remarks>
    private static Socket AttackerSocket(Options options, int spread = 0)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        if (OperatingSystem.IsLinux())
        {
            socket.SetRawSocketOption(0 /* IPPROTO_IP */, 24 /* IP_BIND_ADDRESS_NO_PORT */, BitConverter.GetBytes(1));
        }
        var address = options.Attacker;
        if (spread > 0)
        {
            var bytes = address.GetAddressBytes();
            bytes[3] = (byte)(bytes[3] + Random.Shared.Next(spread));
            address = new IPAddress(bytes);
        }
        socket.Bind(new IPEndPoint(address, 0));
        return socket;
    }

    private static async Task<RawWebSocket> OpenAsync(Options options, CancellationToken stop, int spread = 0)
    {
        using var attempt = CancellationTokenSource.CreateLinkedTokenSource(stop);
        attempt.CancelAfter(TimeSpan.FromSeconds(5));
        return await RawWebSocket.ConnectAsync(options.Server, AttackerSocket(options, spread), Options.SocketPath, attempt.Token);
    }

    private static void Failed(Counters counters, Exception ex)
    {
        var name = ex switch
        {
            HandshakeRefusedException refused => "refused_http_" + refused.Status.ToString(CultureInfo.InvariantCulture),
            ClosedByServerException => "closed_by_server",
            SocketException socket => "socket_" + socket.SocketErrorCode,
            OperationCanceledException => "timeout",
            _ => "error_" + ex.GetType().Name,
        };
        counters.Add(name);
    }

    // (1) New Engine.IO sessions over WebSocket as fast as possible: upgrade, read the open packet, close (from
    // 127.0.0.2-9: see AttackerSocket).
    private static async Task<string> HandshakeFloodAsync(Options options, Counters counters, CancellationToken stop)
    {
        var concurrency = options.Int("concurrency", 64);
        var max = options.Int("max-operations", 2_000_000);
        long attempts = 0;
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(_ => Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested && Interlocked.Increment(ref attempts) <= max)
            {
                try
                {
                    using var ws = await OpenAsync(options, stop, spread: 8);
                    using var read = CancellationTokenSource.CreateLinkedTokenSource(stop);
                    read.CancelAfter(TimeSpan.FromSeconds(5));
                    var open = await ws.ReadTextAsync(read.Token);
                    counters.Add(open.StartsWith('0') ? "opened" : "unexpected_reply");
                }
                catch (Exception) when (stop.IsCancellationRequested)
                {
                    return;
                }
                catch (Exception ex)
                {
                    Failed(counters, ex);
                    if (ex is SocketException)
                    {
                        await Task.Delay(10, CancellationToken.None);
                    }
                }
            }
        })));
        var seconds = clock.Elapsed.TotalSeconds;
        return $"{counters["opened"]:N0} sessions opened and closed ({PerSecond(counters["opened"], seconds)}), {concurrency} at once";
    }

    // (2) Engine.IO sessions that send Socket.IO CONNECTs with missing, malformed, forged or oversized tokens, again
    // and again on the same session (a refused CONNECT leaves the Engine.IO session open), 4 in flight per session.
    private static async Task<string> ConnectFloodAsync(Options options, Counters counters, CancellationToken stop)
    {
        var sessions = options.Int("concurrency", 32);
        var max = options.Int("max-operations", 5_000_000);
        const int window = 4;
        var bad = BadConnects();
        long sent = 0;
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, sessions).Select(s => Task.Run(async () =>
        {
            var k = s;
            for (var session = 0; session < 1000 && !stop.IsCancellationRequested; session++)
            {
                try
                {
                    using var ws = await OpenAsync(options, stop);
                    counters.Add("sessions");
                    await ws.ReadTextAsync(stop); // open packet
                    while (!stop.IsCancellationRequested && Interlocked.Add(ref sent, window) <= max)
                    {
                        for (var i = 0; i < window; i++)
                        {
                            await ws.SendTextAsync(bad[k++ % bad.Length], stop);
                        }
                        counters.Add("connects_sent", window);
                        for (var replies = 0; replies < window;)
                        {
                            var reply = await ws.ReadTextAsync(stop);
                            if (reply == "2")
                            {
                                await ws.SendTextAsync("3", stop);
                                continue;
                            }
                            replies++;
                            if (reply.StartsWith("44", StringComparison.Ordinal))
                            {
                                var code = reply.IndexOf("\"code\":\"", StringComparison.Ordinal) is var at and > 0
                                    ? reply[(at + 8)..reply.IndexOf('"', at + 8)] : "no_code";
                                counters.Add("refused_" + code);
                            }
                            else if (reply.StartsWith("40", StringComparison.Ordinal))
                            {
                                counters.Add("ACCEPTED");
                            }
                            else
                            {
                                counters.Add("other_reply");
                            }
                        }
                    }
                    return;
                }
                catch (Exception) when (stop.IsCancellationRequested)
                {
                    return;
                }
                catch (Exception ex)
                {
                    Failed(counters, ex);
                    await Task.Delay(10, CancellationToken.None);
                }
            }
        })));
        var seconds = clock.Elapsed.TotalSeconds;
        var refused = counters.Snapshot().Where(c => c.Key.StartsWith("refused_token", StringComparison.Ordinal)).Sum(c => c.Value);
        return $"{refused:N0} CONNECTs refused ({PerSecond(refused, seconds)}) on {counters["sessions"]:N0} sessions, {sessions} at once";
    }

    /// <summary>CONNECT packets a stranger can send: no auth, empty, garbage, a JWT signed with a guessed key, alg none, 9 KB.</summary>
    private static string[] BadConnects()
    {
        static string B64(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        static string Jwt(string header, string payload, byte[]? key)
        {
            var signing = B64(Encoding.UTF8.GetBytes(header)) + "." + B64(Encoding.UTF8.GetBytes(payload));
            return signing + "." + (key is null ? "" : B64(HMACSHA256.HashData(key, Encoding.ASCII.GetBytes(signing))));
        }
        var exp = DateTimeOffset.UtcNow.AddHours(1).ToUnixTimeSeconds();
        var claims = $"{{\"sub\":\"1\",\"name\":\"mallory\",\"sid\":\"x\",\"iss\":\"tessera\",\"aud\":\"tessera\",\"exp\":{exp}}}";
        var forged = Jwt("{\"alg\":\"HS256\",\"typ\":\"at+jwt\"}", claims, Encoding.UTF8.GetBytes("a guessed signing key of at least 32 bytes"));
        var none = Jwt("{\"alg\":\"none\",\"typ\":\"at+jwt\"}", claims, null);
        var huge = new string('A', 9000);
        return
        [
            "40",
            "40{}",
            "40{\"token\":\"\"}",
            "40{\"token\":\"not.a.jwt\"}",
            "40{\"token\":\"" + forged + "\"}",
            "40{\"token\":\"Bearer " + forged + "\"}",
            "40{\"token\":\"" + none + "\"}",
            "40{\"token\":\"" + huge + "\"}",
        ];
    }

    // (3) Half-open HTTP requests: a request line and a header or two, then one more header line every few seconds,
    // never the blank line that ends the head. Up to --connections of them, reopened when the server closes one.
    private static async Task<string> SlowlorisAsync(Options options, Counters counters, CancellationToken stop)
    {
        var target = options.Int("connections", 10_000);
        var maxOpens = options.Int("max-operations", 5 * target);
        var drip = TimeSpan.FromSeconds(options.Double("drip-seconds", 5));
        var sockets = new Socket?[target];
        var lastDrip = new long[target];
        var toOpen = Channel.CreateUnbounded<int>();
        for (var i = 0; i < target; i++)
        {
            toOpen.Writer.TryWrite(i);
        }
        var head = Encoding.ASCII.GetBytes($"GET {Options.SocketPath} HTTP/1.1\r\nHost: {options.Server}\r\nUpgrade: websocket\r\n");
        long opens = 0;
        var open = 0;
        var peak = 0;
        long rampTicks = 0;
        var clock = Stopwatch.StartNew();
        var openers = Enumerable.Range(0, options.Int("concurrency", 256)).Select(_ => Task.Run(async () =>
        {
            try
            {
                await foreach (var i in toOpen.Reader.ReadAllAsync(stop))
                {
                    if (Interlocked.Increment(ref opens) > maxOpens)
                    {
                        return;
                    }
                    var socket = AttackerSocket(options);
                    try
                    {
                        using var attempt = CancellationTokenSource.CreateLinkedTokenSource(stop);
                        attempt.CancelAfter(TimeSpan.FromSeconds(5));
                        await socket.ConnectAsync(options.Server, attempt.Token);
                        await socket.SendAsync(head, SocketFlags.None, attempt.Token);
                        socket.Blocking = false;
                        lastDrip[i] = Stopwatch.GetTimestamp();
                        Volatile.Write(ref sockets[i], socket);
                        counters.Add("opened");
                        var now = Interlocked.Increment(ref open);
                        if (now > Volatile.Read(ref peak))
                        {
                            Volatile.Write(ref peak, now);
                        }
                        if (now >= target)
                        {
                            Interlocked.CompareExchange(ref rampTicks, clock.Elapsed.Ticks, 0);
                        }
                    }
                    catch (Exception ex)
                    {
                        socket.Dispose();
                        if (stop.IsCancellationRequested)
                        {
                            return;
                        }
                        Failed(counters, ex);
                        toOpen.Writer.TryWrite(i);
                        await Task.Delay(20, CancellationToken.None);
                    }
                }
            }
            catch (OperationCanceledException)
            {
            }
        })).ToArray();

        // The drip: one pass over every socket twice a second; a socket the server closed is counted and reopened.
        var line = 0;
        var dripTicks = (long)(drip.TotalSeconds * Stopwatch.Frequency);
        while (!stop.IsCancellationRequested)
        {
            for (var i = 0; i < target; i++)
            {
                var socket = Volatile.Read(ref sockets[i]);
                if (socket is null)
                {
                    continue;
                }
                var closed = false;
                try
                {
                    closed = socket.Poll(0, SelectMode.SelectRead) && socket.Available == 0;
                    if (!closed && Stopwatch.GetTimestamp() - lastDrip[i] > dripTicks)
                    {
                        lastDrip[i] = Stopwatch.GetTimestamp();
                        var bytes = Encoding.ASCII.GetBytes($"X-Slow-{line++ % 1000}: {i}\r\n");
                        socket.Send(bytes, 0, bytes.Length, SocketFlags.None, out var error);
                        if (error is not (SocketError.Success or SocketError.WouldBlock))
                        {
                            closed = true;
                        }
                        else
                        {
                            counters.Add("drip_lines");
                        }
                    }
                }
                catch (SocketException)
                {
                    closed = true;
                }
                catch (ObjectDisposedException)
                {
                    closed = true;
                }
                if (closed)
                {
                    counters.Add("closed_by_server");
                    sockets[i] = null;
                    socket.Dispose();
                    Interlocked.Decrement(ref open);
                    toOpen.Writer.TryWrite(i);
                }
            }
            try
            {
                await Task.Delay(500, stop);
            }
            catch (OperationCanceledException)
            {
            }
        }
        toOpen.Writer.TryComplete();
        await Task.WhenAll(openers);
        counters.Add("open_at_end", Volatile.Read(ref open));
        counters.Add("peak_open", Volatile.Read(ref peak));
        foreach (var socket in sockets)
        {
            socket?.Dispose();
        }
        var ramp = rampTicks > 0 ? $", all {target:N0} open after {TimeSpan.FromTicks(rampTicks).TotalSeconds:0.0} s" : $", {peak:N0} at most";
        return $"{peak:N0} half-open connections held{ramp}, {counters["closed_by_server"]:N0} closed by the server";
    }

    // (4) WebSocket ping frames (125-byte payloads, the most a control frame may carry), as fast as the socket takes
    // them, from connections that never read (and never send a Socket.IO CONNECT). Reconnects when cut off.
    private static async Task<string> PingFloodAsync(Options options, Counters counters, CancellationToken stop)
    {
        var connections = options.Int("concurrency", 16);
        const int perBatch = 256;
        var payload = new byte[125];
        Random.Shared.NextBytes(payload);
        var batch = new byte[perBatch * RawWebSocket.FrameLength(payload.Length)];
        for (int i = 0, at = 0; i < perBatch; i++)
        {
            at += RawWebSocket.WriteFrame(batch.AsSpan(at), 0x9, payload, (uint)Random.Shared.Next());
        }
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, connections).Select(_ => Task.Run(async () =>
        {
            for (var attempt = 0; attempt < 1000 && !stop.IsCancellationRequested; attempt++)
            {
                try
                {
                    using var ws = await OpenAsync(options, stop);
                    counters.Add("connections");
                    while (!stop.IsCancellationRequested)
                    {
                        await ws.SendRawAsync(batch, stop);
                        counters.Add("pings_written", perBatch);
                        counters.Add("bytes_written", batch.Length);
                    }
                }
                catch (Exception) when (stop.IsCancellationRequested)
                {
                    return;
                }
                catch (Exception ex)
                {
                    Failed(counters, ex);
                    await Task.Delay(10, CancellationToken.None);
                }
            }
        })));
        var seconds = clock.Elapsed.TotalSeconds;
        var mb = counters["bytes_written"] / 1e6;
        return $"{counters["pings_written"]:N0} pings written ({mb:0.0} MB, {PerSecond(counters["pings_written"], seconds)}) on {counters["connections"]:N0} connections, {connections} at once";
    }

    // (5) Authenticated sockets sending chat:message with acks as fast as they can, pipelined in batches of 64, each
    // in a room of its own: half read their acks (and count the rate_limited ones), half never read anything.
    private static async Task<string> EventFloodAsync(Options options, string[] tokens, Counters counters, CancellationToken stop)
    {
        if (tokens.Length == 0)
        {
            throw new ArgumentException("the event flood needs tokens (--tokens-file)");
        }
        var sockets = options.Int("concurrency", 4);
        var max = options.Int("max-operations", 20_000_000);
        const int perBatch = 64;
        long sent = 0;
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, sockets).Select(s => Task.Run(async () =>
        {
            var reads = s % 2 == 0;
            var room = "flood-" + s.ToString(CultureInfo.InvariantCulture);
            var id = 0;
            for (var attempt = 0; attempt < 200 && !stop.IsCancellationRequested; attempt++)
            {
                var draining = false;
                try
                {
                    using var ws = await OpenAsync(options, stop);
                    await ws.ReadTextAsync(stop);
                    await ws.SendTextAsync("40{\"token\":\"" + tokens[s % tokens.Length] + "\"}", stop);
                    var connected = await ws.ReadTextAsync(stop);
                    if (!connected.StartsWith("40", StringComparison.Ordinal))
                    {
                        throw new InvalidOperationException("the flooder was refused: " + connected);
                    }
                    await ws.SendTextAsync("420[\"chat:join\",{\"room\":\"" + room + "\"}]", stop);
                    counters.Add("sessions");
                    using var connection = CancellationTokenSource.CreateLinkedTokenSource(stop);
                    draining = reads;
                    var reader = reads ? Task.Run(() => DrainAsync(ws, counters, connection.Token)) : Task.CompletedTask;
                    try
                    {
                        var frames = new MemoryStream();
                        while (!stop.IsCancellationRequested && Interlocked.Add(ref sent, perBatch) <= max)
                        {
                            frames.SetLength(0);
                            for (var i = 0; i < perBatch; i++)
                            {
                                var text = Encoding.UTF8.GetBytes("42" + (++id).ToString(CultureInfo.InvariantCulture) + "[\"chat:message\",{\"room\":\"" + room + "\",\"text\":\"flood\"}]");
                                var frame = new byte[RawWebSocket.FrameLength(text.Length)];
                                RawWebSocket.WriteFrame(frame, 0x1, text, (uint)id);
                                frames.Write(frame);
                            }
                            await ws.SendRawAsync(frames.GetBuffer().AsMemory(0, (int)frames.Length), stop);
                            counters.Add(reads ? "events_sent_by_readers" : "events_sent_by_non_readers", perBatch);
                        }
                    }
                    finally
                    {
                        await connection.CancelAsync();
                        await reader;
                    }
                    return;
                }
                catch (Exception) when (stop.IsCancellationRequested)
                {
                    return;
                }
                catch (Exception ex)
                {
                    if (!draining)
                    {
                        // A reader's cut is counted once, by its reader.
                        Failed(counters, ex);
                    }
                    await Task.Delay(10, CancellationToken.None);
                }
            }
        })));
        var seconds = clock.Elapsed.TotalSeconds;
        var total = counters["events_sent_by_readers"] + counters["events_sent_by_non_readers"];
        return $"{total:N0} events sent ({PerSecond(total, seconds)}) by {sockets} sockets; acks read: {counters["ack_ok"]:N0} ok, {counters["ack_rate_limited"]:N0} rate_limited; {counters["closed_by_server"]:N0} cut off";
    }

    private static async Task DrainAsync(RawWebSocket ws, Counters counters, CancellationToken stop)
    {
        try
        {
            while (!stop.IsCancellationRequested)
            {
                var message = await ws.ReadTextAsync(stop);
                if (message == "2")
                {
                    await ws.SendTextAsync("3", stop);
                }
                else if (message.StartsWith("43", StringComparison.Ordinal))
                {
                    counters.Add(message.Contains("rate_limited", StringComparison.Ordinal) ? "ack_rate_limited"
                        : message.Contains("\"ok\":true", StringComparison.Ordinal) ? "ack_ok" : "ack_other");
                }
                else if (message.StartsWith("42", StringComparison.Ordinal))
                {
                    counters.Add("deliveries_read");
                }
            }
        }
        catch (Exception) when (stop.IsCancellationRequested)
        {
        }
        catch (Exception ex)
        {
            // The sender sees the cut too; count it once, here.
            Failed(counters, ex);
        }
    }
}
