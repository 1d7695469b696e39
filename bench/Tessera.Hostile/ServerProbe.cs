using System.Globalization;

namespace Tessera.Hostile;

internal sealed record ServerFigures(
    double CpuPercent, double CpuSeconds, long RssStartKb, long RssPeakKb, long RssEndKb, int FdsPeak, double MachineBusyPercent,
    SortedDictionary<string, long> Tcp);

/// <summary>
/// The server's CPU time and RSS (and open file descriptors: its connections) from /proc, sampled during a phase;
/// with the whole machine's busy share from /proc/stat, so noise from other processes shows.
/// </summary>
internal sealed class ServerProbe(int? pid)
{
    private long _cpuStart;
    private long _machineBusyStart;
    private long _machineTotalStart;
    private Dictionary<string, long> _tcpStart = [];
    private long _rssStart;
    private long _rssPeak;
    private int _fdsPeak;
    private DateTime _started;
    private CancellationTokenSource? _sampling;
    private Task? _sampler;

    public void Start()
    {
        _started = DateTime.UtcNow;
        (_machineBusyStart, _machineTotalStart) = Machine();
        _tcpStart = Tcp();
        if (pid is not { } id)
        {
            return;
        }
        _cpuStart = CpuTicks(id);
        _rssStart = _rssPeak = Rss(id);
        _fdsPeak = Fds(id);
        _sampling = new CancellationTokenSource();
        var token = _sampling.Token;
        _sampler = Task.Run(async () =>
        {
            while (!token.IsCancellationRequested)
            {
                try
                {
                    await Task.Delay(250, token);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
                _rssPeak = Math.Max(_rssPeak, Rss(id));
                _fdsPeak = Math.Max(_fdsPeak, Fds(id));
            }
        });
    }

    public async Task<ServerFigures?> StopAsync()
    {
        var seconds = (DateTime.UtcNow - _started).TotalSeconds;
        var (busy, total) = Machine();
        var machine = total > _machineTotalStart ? Math.Round(100.0 * (busy - _machineBusyStart) / (total - _machineTotalStart), 1) : 0;
        if (pid is not { } id || _sampling is null)
        {
            return null;
        }
        await _sampling.CancelAsync();
        await _sampler!;
        var cpu = (CpuTicks(id) - _cpuStart) / 100.0;
        var rss = Rss(id);
        var tcp = new SortedDictionary<string, long>(StringComparer.Ordinal);
        foreach (var (name, value) in Tcp())
        {
            tcp[name] = value - _tcpStart.GetValueOrDefault(name);
        }
        return new ServerFigures(Math.Round(100 * cpu / seconds, 1), Math.Round(cpu, 2), _rssStart, Math.Max(_rssPeak, rss), rss, Math.Max(_fdsPeak, Fds(id)), machine, tcp);
    }

    private static readonly string[] TcpCounters =
        ["Tcp.RetransSegs", "TcpExt.TCPTimeouts", "TcpExt.ListenOverflows", "TcpExt.ListenDrops", "TcpExt.PruneCalled", "TcpExt.TCPBacklogDrop"];

    /// <summary>The machine's TCP counters that explain latency a server cannot see: retransmissions (and their
    /// timeouts), accept-queue overflows, receive-queue pruning (/proc/net/snmp, /proc/net/netstat).</summary>
    private static Dictionary<string, long> Tcp()
    {
        var values = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var file in new[] { "/proc/net/snmp", "/proc/net/netstat" })
        {
            try
            {
                var lines = File.ReadAllLines(file);
                for (var i = 0; i + 1 < lines.Length; i += 2)
                {
                    var names = lines[i].Split(' ', StringSplitOptions.RemoveEmptyEntries);
                    var numbers = lines[i + 1].Split(' ', StringSplitOptions.RemoveEmptyEntries);
                    var prefix = names[0].TrimEnd(':');
                    for (var k = 1; k < Math.Min(names.Length, numbers.Length); k++)
                    {
                        var key = prefix + "." + names[k];
                        if (Array.IndexOf(TcpCounters, key) >= 0 && long.TryParse(numbers[k], NumberStyles.Integer, CultureInfo.InvariantCulture, out var value))
                        {
                            values[key] = value;
                        }
                    }
                }
            }
            catch (IOException)
            {
            }
        }
        return values;
    }

    public static int Fds(int pid)
    {
        try
        {
            return Directory.EnumerateFileSystemEntries($"/proc/{pid}/fd").Count();
        }
        catch (IOException)
        {
            return 0;
        }
        catch (UnauthorizedAccessException)
        {
            return 0;
        }
    }

    /// <summary>user + system time in clock ticks (USER_HZ = 100).</summary>
    private static long CpuTicks(int pid)
    {
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
    }

    private static long Rss(int pid)
    {
        foreach (var line in File.ReadLines($"/proc/{pid}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
            }
        }
        return 0;
    }

    /// <summary>Busy and total jiffies of all CPUs (busy = total − idle − iowait).</summary>
    private static (long Busy, long Total) Machine()
    {
        var line = File.ReadLines("/proc/stat").First();
        var values = line.Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1).Take(8).Select(v => long.Parse(v, CultureInfo.InvariantCulture)).ToArray();
        var total = values.Sum();
        return (total - values[3] - values[4], total);
    }
}
