using System.Globalization;
using System.Net;

namespace Tessera.Hostile;

/// <summary>Command-line options, <c>--name value</c>; every loop of the tool is bounded by them in count and time.</summary>
internal sealed class Options
{
    private readonly string[] _args;

    public Options(string[] args)
    {
        _args = args;
        Url = new Uri(Get("url", "http://127.0.0.1:3000"));
        if (!IPAddress.TryParse(Url.Host, out var host) || !IPAddress.IsLoopback(host))
        {
            throw new ArgumentException("--url must be a loopback address (127.0.0.1): this tool attacks only this machine.");
        }
        Server = new IPEndPoint(host, Url.Port);
        Attacker = IPAddress.Parse(Get("attacker", "127.0.0.2"));
        Legitimate = IPAddress.Parse(Get("legitimate", "127.0.0.1"));
        if (!IPAddress.IsLoopback(Attacker) || !IPAddress.IsLoopback(Legitimate))
        {
            throw new ArgumentException("--attacker and --legitimate must be loopback addresses (127.x.y.z).");
        }
    }

    public Uri Url { get; }

    public IPEndPoint Server { get; }

    /// <summary>Source address of every attack (all of 127.0.0.0/8 is loopback on Linux): a stranger to the server.</summary>
    public IPAddress Attacker { get; }

    /// <summary>Source address of the legitimate clients.</summary>
    public IPAddress Legitimate { get; }

    public string Get(string name, string fallback)
    {
        var i = Array.LastIndexOf(_args, "--" + name);
        return i >= 0 && i + 1 < _args.Length ? _args[i + 1] : fallback;
    }

    public int Int(string name, int fallback) => int.Parse(Get(name, fallback.ToString(CultureInfo.InvariantCulture)), CultureInfo.InvariantCulture);

    public double Double(string name, double fallback) => double.Parse(Get(name, fallback.ToString(CultureInfo.InvariantCulture)), CultureInfo.InvariantCulture);

    public bool Has(string name) => Array.IndexOf(_args, "--" + name) >= 0;

    public const string SocketPath = "/socket.io/?EIO=4&transport=websocket";
}
