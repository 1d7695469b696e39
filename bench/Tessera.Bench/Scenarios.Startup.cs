using System.Diagnostics;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;

/// <summary>Issue 18's scenarios: a reconnect storm on a fresh process, and the handshake browsers do by default.</summary>
internal static partial class Scenarios
{
    /// <summary>
    /// A reconnect storm: <c>--connections</c> clients (10,000) connect as fast as they can, <c>--concurrency</c> (100)
    /// handshakes in flight, and stay connected. An operation is one completed handshake; the result's seconds are the
    /// time until the last one completed, its CPU is the server's per handshake, its latencies each handshake's.
    /// </summary>
    public static async Task<Result> StormAsync(Options options)
    {
        var tokens = Enumerable.Range(0, 64).Select(i => Token(options, true, "user" + i)).ToArray();
        var meter = new Meter(options with { WarmupSeconds = 0 });
        var connections = new Connection?[options.Connections];
        var next = -1;
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(Math.Max(60, options.Seconds)));
        var workers = Enumerable.Range(0, Math.Min(options.Batch, options.Connections)).Select(_ => Task.Run(async () =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < connections.Length && !stop.IsCancellationRequested)
            {
                var started = Stopwatch.GetTimestamp();
                try
                {
                    var (connection, reply) = await Connection.OpenAsync(options, tokens[i % tokens.Length], stop.Token);
                    connections[i] = connection;
                    if (reply.StartsWith("40{", StringComparison.Ordinal))
                    {
                        meter.Record(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                    }
                    else
                    {
                        meter.Error();
                    }
                }
                catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or IOException)
                {
                    meter.Error();
                }
            }
        })).ToArray();
        await Task.WhenAll(workers);
        var result = meter.Finish("storm", options.Connections);
        foreach (var connection in connections)
        {
            connection?.Dispose();
        }
        return result;
    }

    /// <summary>
    /// What socket.io-client does by default in a browser, one client after another on <c>--connections</c> workers (50):
    /// polling open (GET), CONNECT with the token (POST) and its reply (GET), then the WebSocket upgrade (a GET parked
    /// meanwhile, <c>2probe</c> → <c>3probe</c>, the parked GET released with a noop, <c>5</c>). An operation is one
    /// completed handshake, upgraded (an echo with ack answered over the WebSocket); HTTP connections are kept alive and reused, as a browser does.
    /// </summary>
    public static async Task<Result> BrowserHandshakesAsync(Options options)
    {
        var meter = new Meter(options);
        using var stop = new CancellationTokenSource(options.LoadDuration);
        var warmup = meter.MeasureAfterWarmupAsync();
        var tokens = Enumerable.Range(0, 64).Select(i => Token(options, true, "user" + i)).ToArray();
        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = options.Connections * 2, UseCookies = false });
        var polling = options.Url + "/socket.io/?EIO=4&transport=polling";
        var workers = Enumerable.Range(0, options.Connections).Select(w => Task.Run(async () =>
        {
            var i = w;
            while (meter.Running(stop.Token))
            {
                var started = Stopwatch.GetTimestamp();
                try
                {
                    if (await BrowserHandshakeAsync(http, options, polling, tokens[i++ % tokens.Length], stop.Token))
                    {
                        meter.Record(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                    }
                    else
                    {
                        meter.Error();
                    }
                }
                catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or IOException or HttpRequestException)
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
        return meter.Finish("browser", options.Connections);
    }

    private static async Task<bool> BrowserHandshakeAsync(HttpClient http, Options options, string polling, string token, CancellationToken cancellationToken)
    {
        var open = await http.GetStringAsync(polling, cancellationToken);
        var sid = JsonDocument.Parse(open.AsMemory(1)).RootElement.GetProperty("sid").GetString()!;
        var session = polling + "&sid=" + sid;
        using (var connect = new StringContent("40{\"token\":\"" + token + "\"}", Encoding.UTF8, "text/plain"))
        using (var posted = await http.PostAsync(session, connect, cancellationToken))
        {
            if (!posted.IsSuccessStatusCode)
            {
                return false;
            }
        }
        var reply = await http.GetStringAsync(session, cancellationToken);
        if (!reply.StartsWith("40{", StringComparison.Ordinal))
        {
            return false;
        }
        // The client keeps a GET parked while it probes the WebSocket; the server releases it with a noop.
        var parked = http.GetStringAsync(session, cancellationToken);
        using var ws = new ClientWebSocket();
        ws.Options.KeepAliveInterval = TimeSpan.Zero;
        await ws.ConnectAsync(new Uri($"ws{options.Url[4..]}/socket.io/?EIO=4&transport=websocket&sid={sid}"), cancellationToken);
        await ws.SendAsync("2probe"u8.ToArray(), WebSocketMessageType.Text, true, cancellationToken);
        var buffer = new byte[64];
        var probe = await ws.ReceiveAsync(buffer, cancellationToken);
        if (!buffer.AsSpan(0, probe.Count).SequenceEqual("3probe"u8))
        {
            return false;
        }
        if (await parked != "6")
        {
            return false;
        }
        await ws.SendAsync("5"u8.ToArray(), WebSocketMessageType.Text, true, cancellationToken);
        // Upgraded once an event sent over the WebSocket is answered there.
        await ws.SendAsync("421[\"echo\",1]"u8.ToArray(), WebSocketMessageType.Text, true, cancellationToken);
        var echoed = await ws.ReceiveAsync(buffer, cancellationToken);
        ws.Abort();
        return buffer.AsSpan(0, echoed.Count).SequenceEqual("431[1]"u8);
    }
}
