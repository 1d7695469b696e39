using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Tessera.Hostile;

internal sealed record ScenarioResult(
    string Scenario, double Seconds, string Volume, LegitimateFigures Legitimate, ServerFigures? Server, double[] CoreStallMaxMs,
    SortedDictionary<string, long>? AttackCounters, SortedDictionary<string, double> ServerMetrics, string Verdict);

/// <summary>
/// The <c>run</c> command: accounts, the legitimate clients, then the phases one after the other as standard input
/// says — the quiet baseline, each attack (a separate <c>attack</c> process that bench/hostile.sh starts at nice 5,
/// so that its CPU use and thread pool are its own and it yields to the legitimate clients' process), a quiet phase
/// again at the end — each followed by a cool-down until the server holds no more connections than before.
/// (bench/hostile.sh, not this process, starts and bounds them: simpler to keep every wait bounded.)
/// </summary>
internal static class Runner
{
    public static async Task<int> RunAsync(Options options)
    {
        var pid = options.Has("pid") ? options.Int("pid", 0) : (int?)null;
        var clients = options.Int("clients", 100);
        var rooms = options.Int("rooms", 10);
        var rate = options.Double("rate", 2);
        var clock = Stopwatch.StartNew();

        Log($"accounts: registering and logging in {clients} legitimate users and 4 flooders");
        var tokens = await Accounts.TokensAsync(options.Url, "legit", clients, options.Int("setup-parallelism", 4));
        var floodTokens = await Accounts.TokensAsync(options.Url, "flood", 4, 4);
        // For the event flood: the attack process reads its flooders' tokens here.
        var tokensFile = options.Get("tokens-file", Path.Combine(Path.GetTempPath(), $"tessera-hostile-{Environment.ProcessId}.tokens"));
        await File.WriteAllLinesAsync(tokensFile, floodTokens);
        Log($"accounts ready after {clock.Elapsed.TotalSeconds:0.0} s");

        var recorder = new Recorder();
        var legit = Enumerable.Range(0, clients)
            .Select(i => new LegitimateClient(i, tokens[i], "room-" + (i % rooms).ToString(CultureInfo.InvariantCulture), options, recorder)).ToArray();
        for (var start = 0; start < legit.Length; start += 20)
        {
            await Task.WhenAll(legit.Skip(start).Take(20).Select(c => c.ConnectAsync(CancellationToken.None)));
        }
        Log($"{clients} legitimate clients connected in {rooms} rooms, {rate}/s each");
        using var stop = new CancellationTokenSource();
        var running = legit.SelectMany(c => new[] { Task.Run(() => c.ReceiveAsync(stop.Token)), Task.Run(() => c.SendAsync(rate, stop.Token)) }).ToList();
        running.Add(Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                foreach (var c in legit)
                {
                    c.Sweep();
                }
                await Task.Delay(250, CancellationToken.None);
            }
        }));
        // The canary: a thread that sleeps 1 ms at a time and records how late it wakes. If the attack process (same
        // core, lower priority) delayed the legitimate clients' process, it shows here, not in the server's figures.
        var canary = new Thread(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                var before = Stopwatch.GetTimestamp();
                Thread.Sleep(1);
                recorder.Current?.Lag(Math.Max(0, Stopwatch.GetElapsedTime(before).TotalMilliseconds - 1));
            }
        }) { IsBackground = true, Name = "canary" };
        canary.Start();
        await Task.Delay(TimeSpan.FromSeconds(options.Double("warmup", 5)));
        var restingFds = pid is { } p ? ServerProbe.Fds(p) : 0;

        var results = new List<(Phase Phase, double Seconds, string Volume, ServerFigures? Server, double[] Stalls, AttackFigures? Attack, SortedDictionary<string, double> Metrics)>();
        Stalls.Start(stop.Token);
        // The phases are driven from standard input (bench/hostile.sh starts each attack process between a begin and
        // an end): "begin NAME", "end NAME [attack figures file]", "quit". Each command is answered on standard output
        // ("ready" first), once it has taken effect. End of input, or none for 5 minutes, ends the run.
        Reply("ready");
        Phase? phase = null;
        ServerProbe? probe = null;
        Dictionary<string, double>? metricsBefore = null;
        var started = Stopwatch.StartNew();
        while (true)
        {
            string? command;
            try
            {
                command = await Console.In.ReadLineAsync().WaitAsync(TimeSpan.FromMinutes(5));
            }
            catch (TimeoutException)
            {
                Log("no command for 5 minutes: stopping");
                break;
            }
            var words = command?.Split(' ', StringSplitOptions.RemoveEmptyEntries) ?? ["quit"];
            if (words.Length == 0)
            {
                continue;
            }
            if (words[0] == "begin" && words.Length > 1 && phase is null)
            {
                phase = new Phase(words[1]);
                probe = new ServerProbe(pid);
                metricsBefore = await MetricsAsync(options);
                probe.Start();
                Stalls.TakeMax();
                recorder.Begin(phase);
                started.Restart();
                Log($"{phase.Name}: begins");
                Reply("begun " + phase.Name);
            }
            else if (words[0] == "end" && phase is not null)
            {
                recorder.End();
                var stalls = Stalls.TakeMax();
                var elapsed = started.Elapsed.TotalSeconds;
                var server = await probe!.StopAsync();
                var metrics = Diff(metricsBefore!, await MetricsAsync(options));
                AttackFigures? attack = null;
                if (words.Length > 2 && File.Exists(words[2]))
                {
                    var line = File.ReadLines(words[2]).LastOrDefault(l => l.StartsWith('{'));
                    attack = line is null ? null : JsonSerializer.Deserialize<AttackFigures>(line);
                    attack ??= new AttackFigures(phase.Name, elapsed, "no figures (the attack did not finish: see its log)", []);
                }
                results.Add((phase, elapsed, attack?.Volume ?? "none (quiet)", server, stalls, attack, metrics));
                Log($"{phase.Name}: ends after {elapsed:0.0} s{(attack is null ? "" : ": " + attack.Volume)}");
                // Cool-down: the attack's connections gone (at most 30 s). Messages still waiting for their ack keep
                // their phase: they are settled (acked or timed out) before the figures are read at the end.
                var cooling = Stopwatch.StartNew();
                await Task.Delay(TimeSpan.FromSeconds(options.Double("cooldown", 2)));
                while (pid is { } id && ServerProbe.Fds(id) > restingFds + 20 && cooling.Elapsed < TimeSpan.FromSeconds(30))
                {
                    await Task.Delay(500);
                }
                Reply("ended " + phase.Name);
                phase = null;
            }
            else if (words[0] == "quit")
            {
                break;
            }
            else
            {
                Reply("? " + command);
            }
        }
        // The last phase's messages: every one acked or past the ack timeout.
        for (var i = 0; i < 60 && legit.Any(c => c.Pending > 0); i++)
        {
            await Task.Delay(100);
        }
        await stop.CancelAsync();
        foreach (var c in legit)
        {
            c.Close();
        }
        await Task.WhenAll(running);

        var baseline = results.FirstOrDefault(r => r.Phase.Name == "baseline").Phase?.Figures();
        var rows = results.Select(r =>
        {
            var figures = r.Phase.Figures();
            return new ScenarioResult(r.Phase.Name, Math.Round(r.Seconds, 1), r.Volume, figures, r.Server, r.Stalls, r.Attack?.Counters, r.Metrics, Verdict(figures, baseline, r.Stalls));
        }).ToArray();
        var json = string.Join('\n', rows.Select(r => JsonSerializer.Serialize(r)));
        var table = Table(rows, baseline, options, clients, rooms, rate);
        if (options.Get("json", "") is { Length: > 0 } jsonFile)
        {
            await File.WriteAllTextAsync(jsonFile, json + "\n");
        }
        if (options.Get("markdown", "") is { Length: > 0 } markdownFile)
        {
            await File.WriteAllTextAsync(markdownFile, table);
        }
        Log($"done in {clock.Elapsed.TotalSeconds:0} s");
        return 0;
    }

    private static void Log(string message) => Console.Error.WriteLine($"[{DateTime.UtcNow:HH:mm:ss}] {message}");

    private static void Reply(string message)
    {
        Console.Out.WriteLine(message);
        Console.Out.Flush();
    }

    /// <summary>The server's Prometheus counters (GET /metrics), name{labels} → value.</summary>
    private static async Task<Dictionary<string, double>> MetricsAsync(Options options)
    {
        var values = new Dictionary<string, double>(StringComparer.Ordinal);
        try
        {
            using var http = new HttpClient { BaseAddress = options.Url, Timeout = TimeSpan.FromSeconds(5) };
            foreach (var line in (await http.GetStringAsync("/metrics")).Split('\n'))
            {
                var space = line.LastIndexOf(' ');
                if (line.Length == 0 || line[0] == '#' || space <= 0)
                {
                    continue;
                }
                if (double.TryParse(line[(space + 1)..], NumberStyles.Float, CultureInfo.InvariantCulture, out var value))
                {
                    values[line[..space]] = value;
                }
            }
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
        {
            values["metrics_unavailable"] = 1;
        }
        return values;
    }

    /// <summary>Counters that moved during the phase (gauges: their value at the end).</summary>
    private static SortedDictionary<string, double> Diff(Dictionary<string, double> before, Dictionary<string, double> after)
    {
        var diff = new SortedDictionary<string, double>(StringComparer.Ordinal);
        foreach (var (name, value) in after)
        {
            var change = name.Contains("_total", StringComparison.Ordinal) ? value - before.GetValueOrDefault(name) : value;
            if (change != 0)
            {
                diff[name] = change;
            }
        }
        return diff;
    }

    private static string Verdict(LegitimateFigures figures, LegitimateFigures? baseline, double[] stalls)
    {
        if (stalls.Length > 0 && stalls.Max() > 500)
        {
            // The machine, not the server: a core ran nothing of ours for half a second or more.
            return $"NOT MEASURED: core {Array.IndexOf(stalls, stalls.Max())} stalled {stalls.Max() / 1000:0.0} s";
        }
        if (baseline is null || baseline.AckP99Ms <= 0)
        {
            return "no baseline";
        }
        var ratio = figures.AckP99Ms / baseline.AckP99Ms;
        var problems = new List<string>();
        if (ratio > 2)
        {
            problems.Add($"p99 {ratio:0.0}× quiet");
        }
        if (figures.Errors > 0)
        {
            problems.Add($"{figures.Errors} errors");
        }
        if (figures.Acked == 0)
        {
            problems.Add("no acks");
        }
        return problems.Count == 0 ? "met" : "MISSED: " + string.Join(", ", problems);
    }

    private static string Table(ScenarioResult[] rows, LegitimateFigures? baseline, Options options, int clients, int rooms, double rate)
    {
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"{clients} legitimate clients ({options.Legitimate}) in {rooms} rooms, chat:message with ack at {rate}/s each; attacks from {options.Attacker}; target: p99 ≤ 2× quiet, 0 errors.");
        text.AppendLine();
        text.AppendLine("| scenario | attack volume | legit acks (sent) | ack p50 ms | ack p99 ms | p99 ÷ quiet | delivery p99 ms | client lag p99 ms | errors | server CPU | server RSS MB start → peak | server fds peak | machine busy | TCP retransmits | longest core stall ms | target |");
        text.AppendLine("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|");
        foreach (var r in rows)
        {
            var l = r.Legitimate;
            var ratio = baseline is { AckP99Ms: > 0 } b ? (l.AckP99Ms / b.AckP99Ms).ToString("0.00", CultureInfo.InvariantCulture) + "×" : "";
            var errors = l.Errors == 0 ? "0" : l.Errors.ToString(CultureInfo.InvariantCulture) + " (" + string.Join(", ", l.ErrorsByReason.Select(e => $"{e.Key}: {e.Value}")) + ")";
            var s = r.Server;
            var cpu = s is null ? "" : $"{s.CpuPercent:0}% ({s.CpuSeconds:0.0} s)";
            var rss = s is null ? "" : $"{s.RssStartKb / 1024.0:0} → {s.RssPeakKb / 1024.0:0}";
            text.AppendLine(CultureInfo.InvariantCulture,
                $"| {r.Scenario} | {r.Volume} | {l.Acked:N0} ({l.Sent:N0}) | {l.AckP50Ms:0.00} | {l.AckP99Ms:0.00} | {ratio} | {l.DeliveryP99Ms:0.00} | {l.ClientLagP99Ms:0.00} | {errors} | {cpu} | {rss} | {s?.FdsPeak} | {s?.MachineBusyPercent:0}% | {s?.Tcp.GetValueOrDefault("Tcp.RetransSegs")} | {string.Join(" / ", r.CoreStallMaxMs.Select(m => m.ToString("0", CultureInfo.InvariantCulture)))} | {r.Verdict} |");
        }
        return text.ToString();
    }
}
